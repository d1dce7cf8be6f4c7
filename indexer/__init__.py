"""news-search's indexer: articles in, a searchable index folder out, and search over it."""

from indexer.articles import Article, RecordError, make_article
from indexer.building.pipeline import BuildResult, build_index, update_index
from indexer.chunking import Passage, chunk_article
from indexer.embedding.embedder import DEFAULT_MODEL, Embedder
from indexer.errors import (
    EmptyArchiveError,
    IndexBusyError,
    IndexCorruptError,
    IndexerError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelError,
    QueryError,
)
from indexer.features.evaluate import EvalReport, EvalRow, evaluate
from indexer.filters import Filters, make_filters
from indexer.reading.readers import read_archive
from indexer.reading.report import ArchiveError, ReadOptions, ReadReport, Skipped
from indexer.search.checks import (
    DEFAULT_MODE,
    EVAL_MODES,
    GROUPS,
    MAX_K,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    MODES,
    SORTS,
    check_group,
    check_mode,
    check_page,
    check_query,
    check_recency,
    check_sort,
)
from indexer.search.highlight import Highlights, highlight, query_stems
from indexer.search.results import Hit, SearchResult
from indexer.search.searcher import Searcher
from indexer.search.timeline import INTERVALS, Bucket, Timeline
from indexer.sizes import human_size, parse_size

__all__ = [
    "ArchiveError", "Article", "Bucket", "build_index", "BuildResult", "check_group",
    "check_mode", "check_page", "check_query", "check_recency", "check_sort", "chunk_article",
    "DEFAULT_MODE", "DEFAULT_MODEL", "Embedder", "EmptyArchiveError", "EVAL_MODES",
    "EvalReport", "EvalRow", "evaluate", "Filters", "GROUPS", "highlight", "Highlights", "Hit",
    "human_size", "IndexBusyError", "IndexCorruptError", "IndexerError", "IndexMismatchError",
    "IndexNotFoundError", "INTERVALS", "make_article", "make_filters", "MAX_K", "MAX_PAGE",
    "MAX_QUERY_CHARS", "ModelError", "MODES", "parse_size", "Passage", "query_stems",
    "QueryError", "read_archive", "ReadOptions", "ReadReport", "RecordError", "Searcher",
    "SearchResult", "Skipped", "SORTS", "Timeline", "update_index",
]
