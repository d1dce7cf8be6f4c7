"""Which build each name serves, and what each build holds for its searchers (manifest, outlets,
languages, dates): rows of one collection a Milvus server, REGISTRY.

Rows, not Milvus' aliases and collection properties: milvus-lite's C++ build (2.5) has neither,
and a row is read and written the same way by every Milvus. A name's row (part -1) names the
passages collection it serves; moving it to a new build is one upsert, so a searcher reads the
old build or the new, never neither. A build's description is JSON in parts of MAX_STRING
characters (an archive of many outlets outgrows one string field).
"""

from __future__ import annotations

import json
from typing import Any

from indexer.retrieval.milvus.client import (
    MAX_STRING,
    BackendUnavailableError,
    MilvusAddress,
    literal,
    parts,
    reason,
)

REGISTRY = "news_search_builds"
LEGACY_PROPERTY = "news_search"  # where builds copied before the registry were described
SERVED = -1  # the part of a name's row: which build it serves


def _missing(exc: Exception) -> bool:
    text = str(exc).lower()
    return "not found" in text or "not exist" in text or "can not find" in text


def _query(client: Any, expression: str, fields: list[str]) -> list[dict]:
    """The registry's rows matching expression ([] if there is no registry yet); loaded again
    and asked once more if the first ask fails (a restarted server holds it released)."""
    try:
        return client.query(REGISTRY, filter=expression, output_fields=fields)
    except Exception as exc:  # noqa: BLE001 - grpc and pymilvus errors alike
        if _missing(exc):
            return []
    client.load_collection(REGISTRY)
    return client.query(REGISTRY, filter=expression, output_fields=fields)


def served_collection(client: Any, address: MilvusAddress) -> str | None:
    """The passages collection the address's name serves, or None if it serves none."""
    try:
        rows = _query(client, f"key == {literal(_served_key(address.name))}", ["build"])
    except Exception as exc:  # noqa: BLE001
        raise BackendUnavailableError(f"Milvus at {address.uri} failed to name the collection "
                                      f"served ({reason(exc)})") from None
    return rows[0]["build"] if rows else _aliased(client, address.name)


def _aliased(client: Any, name: str) -> str | None:
    """The collection an alias of that name points to: how builds copied before the registry
    were named (their description a collection property); None where there is none, or the
    server has no aliases."""
    try:
        return client.describe_alias(name)["collection_name"]
    except Exception:  # noqa: BLE001 - no such alias, or UNIMPLEMENTED (milvus-lite 2.5)
        return None


def held(client: Any, collection: str) -> dict:
    """What a build holds for the searcher (describe writes it); a KeyError if nothing."""
    rows = _query(client, f"build == {literal(collection)} and part >= 0", ["part", "text"])
    if not rows:  # a build copied before the registry: described by a property
        return json.loads(client.describe_collection(collection)["properties"][LEGACY_PROPERTY])
    return json.loads("".join(r["text"] for r in sorted(rows, key=lambda r: r["part"])))


def describe(client: Any, collection: str, about: dict) -> None:
    """Write what a build holds (a new manifest is a new generation to the searchers): its
    parts upserted, then any part left from a longer description before removed."""
    written = parts(json.dumps(about))
    _registry(client)
    client.upsert(REGISTRY, [_row(f"{collection}#{n}", collection, n, part)
                             for n, part in enumerate(written)])
    client.delete(REGISTRY, filter=f"build == {literal(collection)} and part >= {len(written)}")


def serve(client: Any, address: MilvusAddress, collection: str) -> None:
    """The address's name serves collection from now on."""
    _registry(client)
    client.upsert(REGISTRY, [_row(_served_key(address.name), collection, SERVED, "")])
    try:  # a build copied before the registry was named by an alias: it would outlive its drop
        client.drop_alias(address.name)
    except Exception:  # noqa: BLE001, S110 - none (or no aliases on this server)
        pass


def forget(client: Any, collections: list[str]) -> None:
    """The descriptions of builds dropped."""
    if collections:
        client.delete(REGISTRY, filter=f"build in {literal(collections)} and part >= 0")


def _served_key(name: str) -> str:
    return f"served:{name}"


def _row(key: str, build: str, part: int, text: str) -> dict:
    return {"key": key, "build": build, "part": part, "text": text, "placeholder": [0.0, 0.0]}


def _registry(client: Any) -> None:
    """The registry, made (read strongly: a row written is read at once) and loaded."""
    from pymilvus import DataType

    if not client.has_collection(REGISTRY):
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=1024)
        schema.add_field("build", DataType.VARCHAR, max_length=1024)
        schema.add_field("part", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=MAX_STRING * 4)
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector
        index = client.prepare_index_params()
        index.add_index("placeholder", index_type="FLAT", metric_type="IP")
        try:
            client.create_collection(REGISTRY, schema=schema, index_params=index,
                                     consistency_level="Strong")
        except Exception as exc:  # noqa: BLE001 - made by another writer meanwhile
            if not client.has_collection(REGISTRY):
                raise exc from None
    client.load_collection(REGISTRY)
