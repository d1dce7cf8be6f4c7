"""Each article's language, detected at index time by py3langid (its model ships in its package:
nothing is downloaded), as an ISO 639-1 code ("en", "de"), or "" where there is too little text
to tell."""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice

SAMPLE_CHARS = 2000  # the headline and the start of the text: enough, and bounded for any article
MIN_LETTERS = 20  # fewer letters than this say nothing reliable
_LETTER = re.compile(r"[^\W\d_]")
CODE = re.compile(r"^[a-z]{2,3}$")


# Languages of no living press (Volapuk, Latin, Esperanto, Sanskrit) are left out: on 32,692
# English news articles they, with the model's three-letter labels (Nigerian Pidgin, "no
# language"), took 3.7% of them; the ISO 639-1 languages alone took 0.39%, nearly all tables
# of figures (docs/history/benchmarks.md, "Languages").
_NOT_NEWS = frozenset({"vo", "la", "eo", "sa"})


@lru_cache(maxsize=1)
def _classify():
    from py3langid import langid

    identifier = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE)
    identifier.set_languages([code for code in dict.fromkeys(identifier.nb_classes)
                              if len(code) == 2 and code not in _NOT_NEWS])
    return identifier.classify


def detect(title: str, text: str) -> str:
    """The language of an article from its headline and text; "" if it cannot be told."""
    sample = f"{title}\n{text}"[:SAMPLE_CHARS]
    if len(list(islice(_LETTER.finditer(sample), MIN_LETTERS))) < MIN_LETTERS:
        return ""  # (the letters are counted only up to MIN_LETTERS)
    code, _ = _classify()(sample)
    return code if CODE.match(code or "") else ""
