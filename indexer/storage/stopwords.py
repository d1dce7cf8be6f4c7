"""Which articles hold each stopword: what the keyword indexes leave out (terms.STOPWORDS are not
indexed), kept so that an operator on one ("-the", "+said") is settled without reading every
candidate article whole (search/ranking.py, admitted). One bit an article a stopword's stem:
16 bytes an article."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np

from indexer.errors import IndexCorruptError
from indexer.terms import STOPWORD_STEMS, STOPWORDS, WORD, fold, stem

FILE = "stopwords.npz"  # in a build's keyword folder: the stems, the articles' ids, the bits
_STEMS = sorted(STOPWORD_STEMS)


def stopword_stems(text: str) -> set[str]:
    """The stems of the stopwords text holds (split as terms.analyse splits it)."""
    return {stem(w) for w in WORD.findall(fold(text)) if w in STOPWORDS}


class StopwordHolders:
    """For each stopword's stem, the articles (ids) holding a stopword of that stem."""

    def __init__(self, stems: list[str], ids: np.ndarray, bits: np.ndarray):
        self.column = {s: i for i, s in enumerate(stems)}
        self.ids, self.bits = ids, bits  # bits: (articles, stems) booleans, packed by row

    @classmethod
    def build(cls, articles: Iterable[tuple[int, str]]) -> StopwordHolders:
        """The record of (id, text) pairs, ids ascending."""
        column = {s: i for i, s in enumerate(_STEMS)}
        ids, rows = [], [np.zeros((0, (len(_STEMS) + 7) // 8), dtype=np.uint8)]
        for article_id, text in articles:
            row = np.zeros(len(_STEMS), dtype=bool)
            row[[column[s] for s in stopword_stems(text)]] = True
            ids.append(article_id)
            rows.append(np.packbits(row)[None])  # packed at once: 16 bytes an article
        return cls(_STEMS, np.array(ids, dtype=np.int64), np.concatenate(rows))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / FILE, stems=json.dumps(list(self.column)), ids=self.ids,
                 bits=self.bits)

    @classmethod
    def load(cls, folder: Path) -> StopwordHolders | None:
        """The record saved in folder; None where a build made before it has none."""
        if not (folder / FILE).is_file():
            return None
        try:
            with np.load(folder / FILE) as saved:
                stems = json.loads(str(saved["stems"]))
                return cls(stems, saved["ids"], saved["bits"])
        except (OSError, ValueError, KeyError) as exc:
            raise IndexCorruptError(f"{folder / FILE} cannot be read ({exc}): rebuild the "
                                    "index with `news-search index PATH`") from None

    def __len__(self) -> int:
        return len(self.ids)

    def holding(self, stem: str) -> np.ndarray | None:
        """The ids (ascending) of the articles holding a stopword of this stem; None for a stem
        no stopword has, or one this record was not made for."""
        at = self.column.get(stem)
        if at is None:
            return None
        return self.ids[(self.bits[:, at >> 3] >> (7 - (at & 7))) & 1 == 1]
