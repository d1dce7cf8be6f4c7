"""The errors the indexer raises: each message says what went wrong and what to do."""


class IndexerError(Exception):
    """Base of every error a user can act on; the CLI prints its message as one line."""


class ModelError(IndexerError):
    """The embedding model cannot be found or loaded."""


class IndexNotFoundError(IndexerError):
    """No complete index exists in the index folder."""


class IndexMismatchError(IndexerError):
    """The index was built with other settings (another model, say) than those configured."""


class IndexCorruptError(IndexerError):
    """A file of the index is missing, truncated or unreadable."""


class EmptyArchiveError(IndexerError):
    """The archive given to the indexer holds no article that could be read."""


class IndexBusyError(IndexerError):
    """Another build is writing to the same index folder."""


class QueryError(IndexerError, ValueError):
    """A search request is invalid (an empty query, k out of range...)."""


class UnknownEntityError(QueryError):
    """No article names the person, organisation or place asked for."""


class AmbiguousNameError(QueryError):
    """A name several entities share (a surname of several people): the message names them."""
