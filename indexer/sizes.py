"""Sizes in bytes as people write and read them: "2MB" in, "2 MB" out."""

from __future__ import annotations

import re

MB = 1024 * 1024
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.I)


def parse_size(text: str) -> int:
    """Bytes from "2MB", "512k", "1.5 GB" or "1000" (units of 1024); ValueError if unreadable."""
    match = _SIZE.fullmatch(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r} (say 2MB, 512kB or a number of bytes)")
    size = int(float(match.group(1)) * 1024 ** " kmgt".index(match.group(2).lower() or " "))
    if size < 1:
        raise ValueError(f"a size must be at least 1 byte, got {text!r}")
    return size


def human_size(size: int) -> str:
    """A size as a reader says it: "2 MB", "1.5 GB", "300 kB", "12 bytes"."""
    for unit, scale in (("GB", 1024 ** 3), ("MB", MB), ("kB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.0f} {unit}" if value >= 10 or value == int(value) else \
                f"{value:.1f} {unit}"
    return f"{size} bytes"


def utf8_over(text: str, limit: int) -> bool:
    """Whether text takes more than limit bytes in UTF-8 (without encoding it when it cannot)."""
    return len(text) > limit or (
        len(text) * 4 > limit and len(text.encode("utf-8", "replace")) > limit
    )
