"""One name for each person, organisation and place across an archive: the variants spaCy
finds (entities.py) resolved, and each one's kind voted across its mentions.

- Spelling: names equal once case, accents, dots, hyphens and apostrophes are set aside are one
  ("Kim Jong-nam", "Kim Jong Nam"; "U.S.", "US").
- Initials: a name of 2 to 5 letters ("US", "EU", "UN") is the organisation or place of several
  words whose initials they are, if the archive names one such more than any other ("United
  States"); a person's initials are not taken ("MS" is not "Ms Sturgeon").
- Titles: "Mrs May" is the surname "May" ("Mr", "Ms", "Dr", "Sir"... likewise).
- Surnames: a name of one word ("Sessions", "Trump") is the person of two or more words ending
  in it ("Jeff Sessions") when that person has at least DOMINANT of the mentions of all such,
  and the word is mostly found as a person, or (spaCy's small model often calls a surname an
  organisation) as no place and at most twice as often as that person's whole name. Such a
  surname names that person even where no article names it alone.
- Each name is shown in its commonest spelling, with the kind most of its mentions were given;
  a name of one word that is no person's surname is a person only if nothing else was found
  ("Brexit", found as a person in 157 articles and a place in 70, is not a person).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from typing import Iterable

DOMINANT = 0.8  # a surname's share of mentions that makes it one person's
SURNAME_SHARE = 0.1  # a word is a surname if whole names ending in it are this often named
HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lord", "lady", "prof"}
_NOT_WORD = re.compile(r"[.\u00b7'’`]")
_SEPARATOR = re.compile(r"[\s\-‐‑–—_/]+")


def spelling_key(name: str) -> str:
    """What a name is once case, accents, dots, hyphens and apostrophes are set aside."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or name
    return " ".join(_SEPARATOR.split(_NOT_WORD.sub("", folded).lower())).strip()


def _initials(key: str) -> str:
    words = [w for w in key.split() if w not in ("of", "the", "and", "for")]
    return "".join(w[0] for w in words) if len(words) > 1 else ""


def resolve(mentions: Iterable[tuple[str, str, int]]) -> dict[str, tuple[str, str]]:
    """For (kind, name, articles naming it so) rows, each name's (canonical name, kind)."""
    count: Counter[str] = Counter()  # spelling key -> mentions
    kinds: defaultdict[str, Counter[str]] = defaultdict(Counter)
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for kind, name, n in mentions:
        key = spelling_key(name)
        if key:
            count[key] += n
            kinds[key][kind] += n
            spellings[key][name] += n
    merged = {key: key for key in count}
    _merge_initials(merged, count, kinds)
    titled = _merge_titles(merged, count, kinds)
    _merge_surnames(merged, count, kinds)
    for key in merged:  # a title's surname may itself be a person's: follow to the end
        while merged[merged[key]] != merged[key]:
            merged[key] = merged[merged[key]]
    totals: defaultdict[str, Counter[str]] = defaultdict(Counter)
    shown: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for key, target in merged.items():
        if key not in titled:  # counted in its surname's already
            totals[target].update(kinds[key])
        if key == target:
            shown[target].update(spellings[key])
    for key, target in merged.items():
        if not shown[target]:  # a surname named only with a title: its titled spelling
            shown[target].update(spellings[key])
    found = {}
    named: Counter[str] = Counter()  # a last word -> mentions of whole names ending in it
    for k in count:
        if " " in k and k not in titled and kinds[k].most_common(1)[0][0] == "person":
            named[k.split()[-1]] += count[k]
    last_words = {w for w, n in named.items() if n >= SURNAME_SHARE * count.get(w, 0)}
    for key, target in merged.items():
        canonical = shown[target].most_common(1)[0][0]
        votes = totals[target]
        if " " not in target and target not in last_words and len(votes) > 1:
            votes = Counter({k: n for k, n in votes.items() if k != "person"})
        kind = max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0]
        for name in spellings[key]:
            found[name] = (canonical, kind)
    for surname, person in _surnames(count, kinds, merged).items():
        canonical, kind = found[shown[person].most_common(1)[0][0]]
        found.setdefault(canonical.split()[-1] if canonical.split()[-1].lower() == surname
                         else surname.title(), (canonical, kind))
    return found


def _merge_titles(merged: dict[str, str], count: Counter[str],
                  kinds: dict[str, Counter[str]]) -> set[str]:
    """A title and one word ("mrs may") counted as that word, a surname; the keys merged."""
    titled = set()
    for key in list(count):
        words = key.split()
        if len(words) == 2 and words[0] in HONORIFICS:
            titled.add(key)
            count[words[1]] += count[key]
            kinds.setdefault(words[1], Counter()).update(kinds[key])
            merged.setdefault(words[1], words[1])
            merged[key] = words[1]
    return titled


def _merge_initials(merged: dict[str, str], count: Counter[str],
                    kinds: dict[str, Counter[str]]) -> None:
    by_initials: defaultdict[str, list[str]] = defaultdict(list)
    for key in count:  # organisations and places go by initials; people, here, do not
        if (initials := _initials(key)) and 2 <= len(initials) <= 5 \
                and kinds[key].most_common(1)[0][0] != "person":
            by_initials[initials].append(key)
    for key in count:
        if " " in key or not 2 <= len(key) <= 5 or key not in by_initials:
            continue
        ranked = sorted(by_initials[key], key=lambda k: (-count[k], k))
        if len(ranked) == 1 or count[ranked[0]] > count[ranked[1]]:
            merged[key] = ranked[0]


def _surnames(count: Counter[str], kinds: dict[str, Counter[str]], merged: dict[str, str]
              ) -> dict[str, str]:
    """Each surname (the last word of a person of two or more words, those named at least
    SURNAME_SHARE as often as the word alone) that one person holds DOMINANT of the mentions
    of, with that person's key."""
    by_last: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for key in count:
        if " " in key and merged[key] == key and kinds[key].most_common(1)[0][0] == "person":
            by_last[key.rsplit(" ", 1)[1]][key] += count[key]
    return {last: people.most_common(1)[0][0] for last, people in by_last.items()
            if people.most_common(1)[0][1] >= DOMINANT * sum(people.values())
            and sum(people.values()) >= SURNAME_SHARE * count.get(last, 0)}


def _merge_surnames(merged: dict[str, str], count: Counter[str],
                    kinds: dict[str, Counter[str]]) -> None:
    surnames = _surnames(count, kinds, merged)
    for key in count:
        if " " in key or key not in surnames or merged[key] != key:
            continue
        found_as = kinds[key].most_common(1)[0][0]
        if found_as == "person" or (found_as != "place"
                                    and 2 * count[surnames[key]] >= count[key]):
            merged[key] = surnames[key]
