"""Embedding across a Ray cluster: passages go, a batch at a time, to a pool of embedder actors.

Each actor loads the same model and embeds as a local build does (on a CPU: the int8 ONNX graph,
each passage alone), so the vectors equal a local build's; an actor takes a GPU where the cluster
has one. Reading and chunking stay on the machine that runs `news-search index`.
"""

from __future__ import annotations

import os
from typing import Callable, Sequence

import numpy as np

from .embedding import DEFAULT_MODEL, Embedder
from .errors import IndexerError
from .onnx_query import DEFAULT_PRECISION

LOCAL = "local"  # --ray without an address: a Ray cluster of this machine alone, on loopback
BATCH = 128  # passages sent to an actor at a time


class _Embedding:
    """One embedder of the pool (a Ray actor): the model loaded once, then batches of passages."""

    def __init__(self, model: str, precision: str, threads: int, gpu: bool):
        self.embedder = Embedder(model, device=None if gpu else "cpu", precision=precision,
                                 threads=threads)
        self.embedder.load_passage_model()

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


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
        self._actors, self._handles = None, []

    def _pool(self):  # noqa: ANN202 - a ray.util.ActorPool
        """The embedder actors, started on first use and kept for every block of the build
        (each loads the model once: a pool a block spent seconds a block loading it)."""
        if self._actors is None:
            import ray
            from ray.util import ActorPool

            actor = ray.remote(num_cpus=self.cpus_each, num_gpus=1 if self.gpus else 0)(_Embedding)
            self._handles = [actor.remote(self.name, self.precision, self.cpus_each,
                                          bool(self.gpus)) for _ in range(self.actors)]
            self._actors = ActorPool(self._handles)
        return self._actors

    def close(self) -> None:
        """Stop the actors (their CPUs and GPUs go back to the cluster)."""
        if self._actors is not None:
            import ray

            for actor in self._handles:
                ray.kill(actor)
            self._actors, self._handles = None, []

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for texts, in their order, embedded by the actors a batch each."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        starts = range(0, len(texts), BATCH)
        done = self._pool().map(lambda actor, at: actor.embed.remote(list(texts[at:at + BATCH])),
                                starts)
        for at, vectors in zip(starts, done):  # in order, as each batch comes back
            out[at:at + len(vectors)] = vectors
            if progress:
                progress(len(vectors))
        return out


def stop_ray() -> None:
    """Leave the Ray cluster (a local one stops)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()

