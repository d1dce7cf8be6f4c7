"""news-search's indexer: articles in, a searchable index folder out, and search over it."""

from indexer.articles import Article, RecordError, make_article
from indexer.building.pipeline import BuildResult, build_index, update_index
from indexer.chunking import Passage, chunk_article
from indexer.embedding.embedder import DEFAULT_MODEL, Embedder
from indexer.features.evaluate import EvalReport, EvalRow, evaluate
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
from indexer.filters import Filters, make_filters
from indexer.search.timeline import INTERVALS, Bucket, Timeline
from indexer.search.highlight import Highlights, highlight, query_stems
from indexer.reading.readers import read_archive
from indexer.reading.report import ArchiveError, ReadOptions, ReadReport, Skipped
from indexer.sizes import human_size, parse_size
from indexer.search.checks import DEFAULT_MODE, EVAL_MODES, GROUPS, MAX_K, MAX_PAGE, MAX_QUERY_CHARS, MODES, SORTS, check_group, check_mode, check_page, check_query, check_recency, check_sort
from indexer.search.results import Hit, SearchResult
from indexer.search.searcher import Searcher

__all__ = [
    "Article", "ArchiveError", "ReadOptions", "human_size", "parse_size", "update_index", "Bucket", "INTERVALS", "Timeline", "SORTS", "check_recency", "check_sort", "Filters", "GROUPS", "MAX_PAGE", "check_group", "check_page",
    "make_filters", "EvalReport", "EvalRow", "evaluate", "DEFAULT_MODE", "EVAL_MODES", "MODES", "check_mode", "BuildResult", "DEFAULT_MODEL", "Embedder", "EmptyArchiveError",
    "Hit", "IndexBusyError", "IndexCorruptError", "IndexMismatchError", "IndexNotFoundError",
    "IndexerError", "MAX_K", "MAX_QUERY_CHARS", "ModelError", "Passage", "QueryError",
    "Highlights", "ReadReport", "RecordError", "SearchResult", "Searcher", "Skipped", "build_index",
    "check_query", "chunk_article", "highlight", "query_stems", "make_article", "read_archive",
]
