"""The manifest: how an index was built, written beside it and checked when it is loaded."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexer.errors import IndexCorruptError, IndexMismatchError

# 2: keyword (FTS5) table beside the passages; 3: and over whole articles; 4: keyword indexes
# (bm25s) beside the database instead; 5: and the articles' phrase index
FORMAT_VERSION = 5
UPGRADABLE = (2, 3, 4)  # formats that `news-search index PATH --update` brings up to date
MANIFEST_NAME = "manifest.json"


@dataclass
class Manifest:
    """Everything needed to use an index correctly, and to tell what it holds."""

    model: str
    dimension: int
    max_words: int
    overlap: int
    articles: int
    passages: int
    built_at: str
    build_seconds: float
    store: str = "faiss-flat-ip"
    store_choice: str = "auto"  # what was asked for: auto (by size), flat or ivf-sq8
    precision: str = "float32"  # of the passage vectors: int8, float32 (all before int8 was), mixed
    format_version: int = FORMAT_VERSION
    sources: list[str] = field(default_factory=list)
    skipped: int = 0
    updated: dict | None = None  # for an update: how many articles were added, changed, removed
    entities: bool = False  # people, organisations and places found (index --entities)

    def write(self, folder: Path) -> None:
        """Write manifest.json into folder."""
        (folder / MANIFEST_NAME).write_text(json.dumps(asdict(self), indent=2) + "\n", "utf-8")

    @classmethod
    def read(cls, folder: Path, upgrading: bool = False) -> "Manifest":
        """Read and validate folder/manifest.json; upgrading accepts an older format that an
        update can bring up to date."""
        path = folder / MANIFEST_NAME
        try:
            data = json.loads(path.read_text("utf-8"))
            manifest = cls(**data)
        except FileNotFoundError:
            raise IndexCorruptError(f"{path} is missing: rebuild the index with "
                                    "`news-search index PATH`") from None
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorruptError(f"{path} is unreadable ({exc}): rebuild the index with "
                                    "`news-search index PATH`") from None
        if manifest.format_version != FORMAT_VERSION and not (
                upgrading and manifest.format_version in UPGRADABLE):
            how = "update it with `news-search index PATH --update` (nothing is re-embedded)" \
                if manifest.format_version in UPGRADABLE else \
                "rebuild it with `news-search index PATH`"
            raise IndexMismatchError(
                f"{folder} has index format {manifest.format_version}, this version reads "
                f"{FORMAT_VERSION}: {how}")
        return manifest

    def check_model(self, model: str, folder: Path) -> None:
        """Refuse an index built by another model than the one configured."""
        if model != self.model:
            raise IndexMismatchError(
                f"index {folder} was built with model '{self.model}' but '{model}' is configured:"
                f" rebuild it with `news-search index PATH --model {model}`, or set "
                f"NEWS_SEARCH_MODEL={self.model} to search it as it is")
