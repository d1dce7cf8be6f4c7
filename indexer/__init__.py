"""news-search's indexer: articles in, a searchable index folder out, and search over it."""

from .articles import Article, RecordError, make_article
from .build import BuildResult, build_index, update_index
from .chunking import Passage, chunk_article
from .embedding import DEFAULT_MODEL, Embedder
from .evaluate import EvalReport, EvalRow, evaluate
from .errors import (
    EmptyArchiveError,
    IndexBusyError,
    IndexCorruptError,
    IndexerError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelError,
    QueryError,
)
from .filters import Filters, make_filters
from .timeline import INTERVALS, Bucket, Timeline
from .highlight import Highlights, highlight, query_stems
from .readers import ArchiveError, ReadOptions, ReadReport, Skipped, read_archive
from .sizes import human_size, parse_size
from .search import (
    DEFAULT_MODE,
    EVAL_MODES,
    GROUPS,
    MAX_K,
    MAX_PAGE,
    MAX_QUERY_CHARS,
    MODES,
    SORTS,
    Hit,
    Searcher,
    SearchResult,
    check_group,
    check_mode,
    check_page,
    check_query,
    check_recency,
    check_sort,
)

__all__ = [
    "Article", "ArchiveError", "ReadOptions", "human_size", "parse_size", "update_index", "Bucket", "INTERVALS", "Timeline", "SORTS", "check_recency", "check_sort", "Filters", "GROUPS", "MAX_PAGE", "check_group", "check_page",
    "make_filters", "EvalReport", "EvalRow", "evaluate", "DEFAULT_MODE", "EVAL_MODES", "MODES", "check_mode", "BuildResult", "DEFAULT_MODEL", "Embedder", "EmptyArchiveError",
    "Hit", "IndexBusyError", "IndexCorruptError", "IndexMismatchError", "IndexNotFoundError",
    "IndexerError", "MAX_K", "MAX_QUERY_CHARS", "ModelError", "Passage", "QueryError",
    "Highlights", "ReadReport", "RecordError", "SearchResult", "Searcher", "Skipped", "build_index",
    "check_query", "chunk_article", "highlight", "query_stems", "make_article", "read_archive",
]
