"""A person, organisation or place across the archive: its articles over time, the names it
appears with, and its latest articles (index --entities; names resolved: entity_names.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from indexer.articles import Article
from indexer.errors import UnknownEntityError
from indexer.retrieval.backend import Build
from indexer.search.checks import ENTITIES_SHOWN
from indexer.search.timeline import Timeline, count_by_period

LATEST_SHOWN = 10


@dataclass(frozen=True)
class EntityView:
    """An entity: its name and kind, the names it was found as (with their articles), how many
    articles name it, when (a timeline of their days), who and what they name most besides it,
    and its latest articles."""

    name: str
    kind: str
    variants: list[tuple[str, int]]
    articles: int
    timeline: Timeline
    companions: list[tuple[str, str, int]] = field(default_factory=list)
    latest: list[Article] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "articles": self.articles,
                "variants": [{"name": v, "articles": n} for v, n in self.variants],
                "timeline": self.timeline.to_dict(),
                "companions": [{"kind": k, "name": e, "articles": n}
                               for k, e, n in self.companions],
                "latest": [a.to_dict() for a in self.latest]}


def entity_view(loaded: Build, name: str, interval: str = "auto") -> EntityView:
    """The entity a name (any variant) stands for; QueryError when none is known by it."""
    found = loaded.entity(name)
    if found is None:
        raise UnknownEntityError(f"no article names {name[:200]!r} (as a person, organisation "
                                 "or place): GET /api/facets lists those the results name")
    canonical, kind, variants, keys = found
    days = loaded.article_days(keys)
    iso = [date.fromordinal(int(d)).isoformat() if d == d else "" for d in days]
    timeline = count_by_period(iso, interval)
    companions = [c for c in loaded.entity_counts(keys, ENTITIES_SHOWN + 1)
                  if c[1] != canonical][:3 * ENTITIES_SHOWN]
    newest = keys[np.argsort(-np.nan_to_num(days, nan=-np.inf), kind="stable")][:LATEST_SHOWN]
    return EntityView(canonical, kind, variants, len(keys), timeline, companions,
                      loaded.articles_by_key(newest))
