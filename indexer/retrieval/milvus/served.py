"""Which build an address serves, opened for a Searcher; a build changes name when an update
writes into it, so that what was cached of it is dropped."""

from __future__ import annotations

from indexer.errors import IndexNotFoundError
from indexer.retrieval.milvus.client import MilvusAddress, connect
from indexer.retrieval.milvus.registry import held, served_collection
from indexer.retrieval.milvus.search import MilvusBuild


def generation(client, collection: str) -> str:  # noqa: ANN001 - a MilvusClient
    """The collection's name with the time its content was last written (its manifest's)."""
    return f"{collection}@{held(client, collection)['manifest']['built_at']}"


class MilvusBackend:
    """The build an address serves, for a Searcher: its name, and the build opened."""

    def __init__(self, address: MilvusAddress, model: str):
        self.address, self.model = address, model
        self.client = connect(address)

    def current_name(self) -> str | None:
        """The served collection with its generation (a name that changes at every write)."""
        collection = served_collection(self.client, self.address)
        if collection is None:
            return None
        try:
            return generation(self.client, collection)
        except Exception:  # noqa: BLE001 - unreadable now: open() says why, with the fix
            return collection

    @staticmethod
    def pointer_problem() -> str | None:
        return None  # a name serves a collection or nothing; open() says which

    def open_served(self) -> tuple[MilvusBuild, str | None]:
        return self.open(), None

    @staticmethod
    def name_of(build: MilvusBuild) -> str:
        return build.generation

    def open(self, name: str | None = None) -> MilvusBuild:
        name = name or served_collection(self.client, self.address)
        if name is None:
            raise IndexNotFoundError(f"no index named {self.address.name} in Milvus at "
                                     f"{self.address.uri}: build one with `news-search index "
                                     f"PATH --backend {self.address}`")
        return MilvusBuild(self.client, self.address, name.split("@")[0], self.model)
