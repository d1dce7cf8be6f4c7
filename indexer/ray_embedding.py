"""Embedding across a Ray cluster: passages go through Ray Data to a pool of embedder actors.

Each actor loads the same model and embeds as a local build does (on a CPU: the int8 ONNX graph,
each passage alone), so the vectors equal a local build's; an actor takes a GPU where the cluster
has one. Reading and chunking stay on the machine that runs `news-search index`.
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Sequence

import numpy as np

from .embedding import DEFAULT_MODEL, Embedder
from .errors import IndexerError
from .onnx_query import DEFAULT_PRECISION

LOCAL = "local"  # --ray without an address: a Ray cluster of this machine alone, on loopback
BATCH = 256  # passages a Ray Data batch sends to an actor


class _EmbedActor:
    """One embedder in the pool: the model loaded once, then a batch of passages at a time.
    Its settings are a class attribute of a subclass (settings), not constructor arguments,
    which Ray would keep in its object store for restarts."""

    settings: tuple[str, str, int, bool] = (DEFAULT_MODEL, DEFAULT_PRECISION, 1, False)

    def __init__(self):
        model, precision, threads, gpu = self.settings
        self.embedder = Embedder(model, device=None if gpu else "cpu", precision=precision,
                                 threads=threads)
        self.embedder.load_passage_model()

    def __call__(self, batch: dict) -> dict:
        return {"at": batch["at"], "vector": self.embedder.encode(list(batch["text"]))}


def start_ray(address: str) -> None:
    """Join the Ray cluster at address, or start one of this machine on 127.0.0.1 (LOCAL)."""
    try:
        import ray
    except ImportError:
        raise IndexerError("--ray needs the cluster extra: pip install -e \".[cluster]\"") from None
    if ray.is_initialized():
        return
    # Ray's C++ core logs to this process's stderr, among our progress lines, a warning as an
    # "E" line about actor restarts that Ray Data's own actors draw; its logs on disk keep all.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    try:
        if address == LOCAL:  # nothing listens beyond loopback, and no dashboard
            ray.init(_node_ip_address="127.0.0.1", include_dashboard=False,
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    except Exception as exc:  # noqa: BLE001 - connection errors of several kinds
        raise IndexerError(f"cannot join the Ray cluster at {address} ({exc}): start it with "
                           "`ray start --head`, or give its address") from None


class RayEmbedder(Embedder):
    """An Embedder whose encode runs on a Ray cluster's pool of `actors` embedder actors (by
    default one a GPU, else one for every two CPUs of the cluster)."""

    def __init__(self, name: str = DEFAULT_MODEL, precision: str = DEFAULT_PRECISION,
                 address: str = LOCAL, actors: int | None = None):
        super().__init__(name, precision=precision)
        start_ray(address)
        import ray

        resources = ray.cluster_resources()
        self.gpus = int(resources.get("GPU", 0))
        cpus = int(resources.get("CPU", 1))
        self.actors = actors or self.gpus or max(1, cpus // 2)
        self.cpus_each = max(1, cpus // self.actors) if not self.gpus else 1

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for texts, in their order, embedded by the actors."""
        import ray.data

        for name in ("ray", "ray.data"):  # ours shows the passages embedded; Ray's lines
            logging.getLogger(name).setLevel(logging.ERROR)  # would bury it
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not len(texts):
            return out
        items = ray.data.from_items([{"at": i, "text": t} for i, t in enumerate(texts)])
        actor = type("EmbedActor", (_EmbedActor,), {
            "settings": (self.name, self.precision, self.cpus_each, bool(self.gpus))})
        vectors = items.map_batches(
            actor, batch_size=BATCH, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=self.actors), num_cpus=self.cpus_each,
            num_gpus=1 if self.gpus else 0)
        for batch in vectors.iter_batches(batch_size=None, batch_format="numpy"):
            out[batch["at"]] = batch["vector"]
            if progress:
                progress(len(batch["at"]))
        return out


def stop_ray() -> None:
    """Leave the Ray cluster (a local one stops)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()

