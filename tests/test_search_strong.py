"""Stronger matching of everyday questions: a local sentence-transformers model (`st:PATH`) end to end with its
query/document prompts, a second stage that re-scores candidates with a strong model, and everyday wording
learned from labelled question -> article pairs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.search import SearchConfig, build_index, load_retriever
from assistant.search.index import read_manifest

ROOT = Path(__file__).resolve().parents[1]
CIVIL = "中华人民共和国民法典"
PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}


@pytest.fixture(scope="module")
def tiny_st_dir(tmp_path_factory):
    """A tiny sentence-transformers folder (random BERT, tokenizer trained on the fixture statutes) that
    defines query/document prompts the way EmbeddingGemma does."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    from assistant.train.tiny import train_tokenizer
    from tests.conftest import fixture_documents

    out = tmp_path_factory.mktemp("st") / "tiny-st"
    tok = train_tokenizer([a.text for d in fixture_documents() for a in d.articles], vocab_size=600)
    hf = out.parent / "hf"
    import torch

    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=512,
                         pad_token_id=tok.pad_token_id)).save_pretrained(hf)
    tok.save_pretrained(hf)
    word = models.Transformer(str(hf), max_seq_length=256)
    dim = (getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension)()
    model = SentenceTransformer(modules=[word, models.Pooling(dim, "mean")],
                                prompts=PROMPTS, device="cpu")
    model.save(str(out))
    return out


def test_st_model_builds_updates_and_searches_with_its_prompts(fixture_store, tmp_path, tiny_st_dir):
    from sentence_transformers import SentenceTransformer

    from assistant.search.embedders import make_embedder

    spec = f"st:{tiny_st_dir}"
    emb = make_embedder(spec)
    assert emb.id == "st:tiny-st+prompts" and emb.dtype in ("bf16", "fp32")
    raw = SentenceTransformer(str(tiny_st_dir), device="cpu")
    q = "离婚冷静期有多久"
    with_prompt = raw.encode([q], prompt_name="query", normalize_embeddings=True)[0]
    bare = raw.encode([q], normalize_embeddings=True)[0]
    got = emb.embed_query(q)
    assert float(got @ with_prompt) > 0.99 and float(got @ with_prompt) > float(got @ bare) + 1e-4

    idx = tmp_path / "search"
    first = build_index(fixture_store, idx, embedder=spec, progress=False)
    m = read_manifest(idx)
    assert m["embedder_spec"] == spec and m["dim"] == emb.dim and first.embedded == fixture_store.count()
    r = load_retriever(fixture_store, idx, build_if_missing=False)  # reopens with the model the index names
    assert r.embedder.id == emb.id
    assert r.search("刑法第一百三十三条之一", top_k=1)[0].article.number == 133
    assert r.search("夫妻双方自愿离婚 离婚协议", top_k=3)

    # incremental update: one changed article is embedded, the rest come from the vector cache
    from tests.test_search_index import _amend

    _amend(fixture_store, "夫妻应当互相忠实，互相尊重，互相关爱（修改后的示例文本）。")
    second = build_index(fixture_store, idx, embedder=spec, progress=False)
    assert second.embedded == 1 and not second.reused


def test_cli_search_and_update_use_the_st_model(tmp_path, tiny_st_dir, fixture_corpus_dir):
    env = dict(os.environ, ASSISTANT_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))

    def run(*args):
        out = subprocess.run([sys.executable, "-m", "assistant.cli", *args], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return out.stdout

    run("corpus", "import", str(fixture_corpus_dir / "minfadian_mini.jsonl"))
    built = json.loads(run("index", "build", "--embedder", f"st:{tiny_st_dir}", "--workers", "2", "--json"))
    assert built["embedded"] > 0
    info = json.loads(run("index", "info", "--json"))
    assert info["embedder_id"] == "st:tiny-st+prompts" and info["building"] is None
    hits = json.loads(run("search", "自愿离婚应当签订什么", "--top-k", "3", "--json"))
    assert hits and all(h["law"] == CIVIL for h in hits)
    run("corpus", "import", str(fixture_corpus_dir / "xingfa_mini.txt"))
    updated = json.loads(run("index", "update", "--json"))
    assert updated["reused"] is False and 0 < updated["embedded"] < updated["articles"]


def test_second_stage_reorders_candidates_by_the_strong_model_and_caches_its_vectors(fixture_store, tmp_path):
    from assistant.search.embedders import USE3Embedder
    from assistant.search.rescore import CandidateRescorer
    from assistant.search.retriever import Retriever
    from assistant.search.text import dense_text

    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    base = load_retriever(fixture_store, idx, build_if_missing=False)
    strong = USE3Embedder()
    rescorer = CandidateRescorer(strong, tmp_path / "cache.sqlite")
    q = "夫妻离婚 婚姻登记机关 离婚登记"
    first_stage = [h.id for h in base.search(q, top_k=8)]
    # with a dominant weight the order among the candidates is the strong model's order
    r = Retriever(fixture_store, base.index, None, SearchConfig(rescore_candidates=8, rescore_weight=100.0),
                  rescorer=rescorer)
    hits = r.search(q, top_k=8)
    assert sorted(h.id for h in hits) == sorted(first_stage)
    qv = strong.embed_query(q)
    cos = [float(strong.embed_documents([dense_text(h.article)])[0] @ qv) for h in hits]
    assert cos == sorted(cos, reverse=True)
    assert rescorer.embedded == len(first_stage)
    r.search(q, top_k=8)
    assert rescorer.embedded == len(first_stage)  # second time: every vector from the cache


def test_everyday_wording_learned_from_pairs_finds_the_article_for_a_new_question(fixture_store, tmp_path,
                                                                                   monkeypatch):
    from assistant.search.learned import LearnedTerms, learn, save

    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", "none")  # start from nothing learned (no packaged questions)
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    r = load_retriever(fixture_store, idx, build_if_missing=False)
    assert r.learned is None
    target = r._row_of[f"{CIVIL}#1077"]
    training = ["离婚冷静期是多久", "冷静期内反悔了怎么办", "冷静期过了对方不来怎么办"]
    artefact = learn([(r.query_tokens(q), [target]) for q in training], r.index.lexical, r.index.ids)
    assert any(w in dict(artefact["term_map"]["冷静"]) for w in ("撤回", "三十日", "申请"))
    assert "离婚冷静期是多久" not in json.dumps(artefact, ensure_ascii=False)  # words, never question text

    question = "冷静期有几天"  # not a training question; the statute never says 冷静期
    before = [h.id for h in r.search(question, top_k=3)]
    assert f"{CIVIL}#1077" not in before[:1]
    save(artefact, tmp_path / "learned_terms.json")  # beside the index: found by the next load
    r2 = load_retriever(fixture_store, idx, build_if_missing=False)
    assert isinstance(r2.learned, LearnedTerms)
    assert r2.search(question, top_k=3)[0].id == f"{CIVIL}#1077"
    assert np.isfinite(r2.search("夫妻双方自愿离婚", top_k=3)[0].score)
