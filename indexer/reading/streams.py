"""A file's bytes: opened only if regular, decompressed with a bound, decoded whatever its
encoding, read whole or in parts."""

from __future__ import annotations

import codecs
import gzip
import io
import os
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterator

from charset_normalizer import from_bytes

from indexer.articles import printable
from indexer.reading.report import SNIFF_BYTES, ReadOptions, file_format, file_kind, over
from indexer.sizes import MB


@dataclass(frozen=True)
class Part:
    """Lines of a large JSON Lines file, read apart from the rest: bytes [start, end), whose
    first line is the file's line first_line, in the file's encoding."""

    start: int
    end: int
    first_line: int
    encoding: str


def parts(file: Path, size: int) -> list[Part] | None:
    """A plain JSON Lines file larger than size, cut after line ends into parts of about size
    bytes, to be read side by side (on a cluster); None for a file read whole: smaller, another
    format, gzip'd, not UTF-8 at its start, or unreadable (reading it whole says why). The file
    is read once here, to number the lines as reading it whole would: "\r\n" and a lone "\r"
    end a line, as "\n" does."""
    if file_format(file) != "jsonl" or file.suffix.lower() == ".gz":
        return None
    try:
        if file.stat().st_size <= size:
            return None
        with open_bytes(file, False) as stream:
            head = stream.read(SNIFF_BYTES)
            _check_start(head)
            encoding = InputFile._encoding(head)
            if encoding not in ("utf-8", "utf-8-sig"):
                return None
            stream.seek(0)
            cuts, ends, at, carriage = [(0, 1)], 0, 0, False  # (byte, its line's number)
            while chunk := stream.read(MB):
                search = max(0, cuts[-1][0] + size - at)  # where the next part may start
                while search < len(chunk) and (newline := chunk.find(b"\n", search)) >= 0:
                    cuts.append((at + newline + 1,
                                 1 + ends + _line_ends(chunk[:newline + 1], carriage)))
                    search = newline + 1 + size
                ends += _line_ends(chunk, carriage)
                carriage = chunk.endswith(b"\r")
                at += len(chunk)
    except (OSError, Unreadable):
        return None
    cuts = [cut for cut in cuts if cut[0] < at]  # no part starts at the file's end
    if len(cuts) == 1:
        return None
    bounds = [byte for byte, _ in cuts] + [at]
    return [Part(bounds[i], bounds[i + 1], line, encoding if i == 0 else "utf-8")
            for i, (_, line) in enumerate(cuts)]


def _line_ends(data: bytes, after_carriage: bool) -> int:
    """The line ends in data as universal newlines count them; after_carriage: the bytes
    before data ended with "\r" (already counted, so a "\n" first is its pair)."""
    ends = data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return ends - (after_carriage and data.startswith(b"\n"))


class Unreadable(Exception):
    """A file (or the rest of it) that cannot be read; the message is the reason."""


def open_bytes(path: Path, gz: bool) -> IO[bytes]:
    """path opened for reading as bytes (decompressed if gz): only a regular file is opened,
    and a FIFO or device swapped in at the last moment does not block the open."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Unreadable(f"cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Unreadable(f"{file_kind(mode)}, not a file of articles: not read")
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        raw = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return _GzipChecked(raw) if gz else raw


class _GzipChecked(io.BufferedIOBase):
    """A gzip stream whose decompression errors, wherever they come, say what is wrong."""

    def __init__(self, raw: IO[bytes]):
        self._raw = raw
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        try:
            return self._gzip.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise Unreadable(f"not a valid gzip file ({exc}); re-compress it or remove .gz") \
                from None

    def read1(self, size: int = -1) -> bytes:
        try:
            return self._gzip.read1(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise Unreadable(f"not a valid gzip file ({exc}); re-compress it or remove .gz") \
                from None

    def close(self) -> None:
        self._gzip.close()
        self._raw.close()
        super().close()


# Byte order marks and the encodings they say, UTF-32's before UTF-16's (whose mark begins
# UTF-32 LE's).
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
         (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def bom_encoding(head: bytes) -> str | None:
    """The encoding a text's byte order mark says, or None where it has none."""
    return next((name for bom, name in _BOMS if head.startswith(bom)), None)


class InputFile:
    """One archive file, opened on demand: read whole up to a limit, or as a stream of text."""

    def __init__(self, path: Path, root: Path, options: ReadOptions, part: Part | None = None):
        self.path, self.root, self.options, self.part = path, root, options, part
        self.where = printable(path)
        self.gz = path.suffix.lower() == ".gz"
        self.counted = False  # as a file read: its start was text

    def whole(self, limit: int, what: str) -> str:
        """The file's text, decoded; Unreadable if it is empty, binary, undecodable, or over
        limit bytes (what names the limit: "file" or "article")."""
        data = bytearray()
        with open_bytes(self.path, self.gz) as stream:
            while len(data) <= limit:  # a megabyte at a time: read(limit) would allocate it all
                chunk = stream.read(min(MB, limit + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
        if len(data) > limit:
            raise Unreadable(over(what, limit, "file"))
        _check_start(data)
        self.counted = True
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            guess = from_bytes(data).best()
            if guess is None:
                raise Unreadable("not text in any known encoding; save it as UTF-8") from None
            return str(guess)

    @staticmethod
    def _encoding(head: bytes) -> str:
        if marked := bom_encoding(head):
            return marked
        try:
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
            return "utf-8"
        except UnicodeDecodeError:
            guess = from_bytes(head).best()
            if guess is None:
                raise Unreadable("not text in any known encoding; save it as UTF-8") from None
            return guess.encoding

    @staticmethod
    def _rewound(stream: IO[bytes], head: bytes) -> IO[bytes]:
        """stream from its start again: what was read of it first, then the rest."""
        return io.BufferedReader(_Prefixed(head, stream), 1 << 16)

    def lines(self, newline: str | None) -> Iterator[tuple[int, str | None]]:
        """(line number, line) of the file as text, a line at a time; the line is None where it
        is longer than the article limit (it is read past, never held). The encoding is guessed
        from the file's start; bytes it cannot decode become U+FFFD."""
        limit = self.options.max_article_bytes
        with open_bytes(self.path, self.gz) as stream:
            if self.part is not None:  # its lines alone, in the encoding of the file's start
                stream.seek(self.part.start)
                raw = io.BufferedReader(_Range(stream, self.part.end - self.part.start), 1 << 16)
                encoding, lineno = self.part.encoding, self.part.first_line - 1
            else:
                head = stream.read(SNIFF_BYTES)
                _check_start(head)
                raw, encoding, lineno = self._rewound(stream, head), self._encoding(head), 0
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline=newline)
            self.counted = True
            while True:
                line = text.readline(limit + 1)
                if not line:
                    return
                lineno += 1
                if len(line) > limit and not line.endswith(("\n", "\r")):
                    while True:  # the rest of this line, a megabyte at a time, dropped
                        rest = text.readline(MB)
                        if not rest or rest.endswith(("\n", "\r")):
                            break
                    yield lineno, None
                else:
                    yield lineno, line


class _Range(io.RawIOBase):
    """The next `length` bytes of a stream, then its end."""

    def __init__(self, stream: IO[bytes], length: int):
        self._stream, self._left = stream, length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[:len(data)] = data
        return len(data)


class _Prefixed(io.RawIOBase):
    """Bytes already read from a stream, then the rest of the stream."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _check_start(data: bytes) -> None:
    """Unreadable for an empty file, or a binary one (NUL bytes at its start, no UTF-16 mark)."""
    if not data.strip():
        raise Unreadable("empty file")
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("binary file, not text (NUL bytes); convert it to text first")


