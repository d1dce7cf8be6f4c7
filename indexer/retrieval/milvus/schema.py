"""The collections a build is in Milvus: what each row holds, what Milvus computes from it (BM25
over our terms, by its BM25 function) and the indexes it searches and filters by."""

from __future__ import annotations

from typing import Any

from indexer.retrieval.milvus.client import B, K1, MAX_STRING

KINDS = ("passages", "articles", "texts", "terms")
# HNSW over the embedders' float vectors (DiskANN is Milvus Distributed's for archives past
# memory). M and efConstruction as Milvus' examples; a search explores max(its depth, EF).
# A server without HNSW (milvus-lite's C++ build: FLAT and IVF_FLAT only) scans them: FLAT.
HNSW = {"M": 16, "efConstruction": 200}
VECTOR_INDEXES = ("HNSW", "FLAT")
EF = 128
# The terms' tokens (client.token) are words to any analyzer: the standard one splits them
# apart and changes nothing else.
ANALYZER = {"tokenizer": "standard"}
BM25 = {"bm25_k1": K1, "bm25_b": B}


def _add_index(index: Any, field: str, kind: str, metric: str, params: dict) -> None:
    """An index with its parameters both as pymilvus 3 sends them (each its own key) and as one
    "params" object, the form milvus-lite reads (it drops the first: BM25 would use k1 1.5)."""
    index.add_index(field, index_type=kind, metric_type=metric, params=params)
    index[-1]._configs["params"] = dict(params)


def _text(schema: Any, name: str, **options: Any) -> None:
    from pymilvus import DataType

    schema.add_field(name, DataType.VARCHAR, max_length=MAX_STRING * 4, **options)


def _bm25(schema: Any, index: Any, source: str, output: str) -> None:
    """A text field of term tokens and the sparse field Milvus' BM25 function computes from
    it."""
    from pymilvus import DataType, Function, FunctionType

    _text(schema, source, enable_analyzer=True, analyzer_params=ANALYZER)
    schema.add_field(output, DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name=f"{output}_bm25", function_type=FunctionType.BM25,
                                 input_field_names=[source], output_field_names=[output]))
    _add_index(index, output, "SPARSE_INVERTED_INDEX", "BM25", BM25)


def _scalars(schema: Any, index: Any, integers: tuple[str, ...], strings: tuple[str, ...],
             indexed: tuple[str, ...]) -> None:
    """Integer and text fields; those in indexed get an inverted index (what filters,
    look-ups and grouping read)."""
    from pymilvus import DataType

    for name in integers:
        schema.add_field(name, DataType.INT64)
    for name in strings:
        _text(schema, name)
    for name in indexed:
        index.add_index(name, index_type="INVERTED")


def _searched(client: Any, primary: str, vector: str, dimension: int, kind: str
              ) -> tuple[Any, Any]:
    """A collection keyed by primary, with a vector (an index of kind) and its words' BM25."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    index = client.prepare_index_params()
    schema.add_field(primary, DataType.INT64, is_primary=True)
    schema.add_field(vector, DataType.FLOAT_VECTOR, dim=dimension)
    _add_index(index, vector, kind, "IP", HNSW if kind == "HNSW" else {})
    _bm25(schema, index, "terms", "words")
    return schema, index


def _passages(client: Any, dimension: int, kind: str) -> tuple[Any, Any]:
    """A passage, its vector, its BM25 and what a page shows of its article."""
    schema, index = _searched(client, "pid", "vector", dimension, kind)
    _scalars(schema, index,
             ("article", "story", "day", "date_key", "position", "start", "end", "copies"),
             ("article_id", "source_key", "language", "text", "title", "date", "source", "url",
              "origin"),
             ("article", "story", "date_key", "article_id", "source_key", "language"))
    return schema, index


def _articles(client: Any, dimension: int, kind: str) -> tuple[Any, Any]:
    """An article (its text is in texts), its words' and phrases' BM25 and its lead vector."""
    schema, index = _searched(client, "key", "lead", dimension, kind)
    _bm25(schema, index, "pair_terms", "pairs")
    _scalars(schema, index, ("story", "day", "date_key"),
             ("id", "title", "date", "source", "source_key", "url", "origin", "content_hash",
              "language"),
             ("story", "date_key", "id", "source_key", "language"))
    return schema, index


def _placeheld(client: Any, primary: str, auto: bool) -> tuple[Any, Any]:
    """A collection of rows without a vector of their own: Milvus wants one, a placeholder."""
    from pymilvus import DataType

    schema = client.create_schema(auto_id=auto, enable_dynamic_field=False)
    index = client.prepare_index_params()
    schema.add_field(primary, DataType.INT64, is_primary=True)
    schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)
    index.add_index("placeholder", index_type="FLAT", metric_type="IP")
    return schema, index


def schemas(client: Any, dimension: int, kind: str = "HNSW") -> dict[str, tuple[Any, Any]]:
    """Each collection's schema and index parameters, by kind: passages; articles; texts (an
    article's text in parts of MAX_STRING characters); terms (how many passages hold each
    term, for the question's IDF: BM25's own statistics are Milvus' and not to be read)."""
    texts = _placeheld(client, "row", auto=True)
    _scalars(*texts, ("article", "part"), ("text",), ("article",))
    terms = _placeheld(client, "term", auto=False)
    _scalars(*terms, ("passages",), (), ())
    return {"passages": _passages(client, dimension, kind),
            "articles": _articles(client, dimension, kind), "texts": texts, "terms": terms}


def create(client: Any, names: dict[str, str], dimension: int) -> str:
    """The collections of a build made, under names (by kind), their vectors indexed by the
    first of VECTOR_INDEXES the server offers: that index's name."""
    for kind in VECTOR_INDEXES:
        try:
            for collection, (schema, index) in schemas(client, dimension, kind).items():
                client.create_collection(names[collection], schema=schema, index_params=index)
            return kind
        except Exception as exc:
            if "invalid index type" not in str(exc).lower() or kind == VECTOR_INDEXES[-1]:
                raise
            for name in names.values():  # those made before the refusal
                if client.has_collection(name):
                    client.drop_collection(name)
    raise AssertionError("unreachable")
