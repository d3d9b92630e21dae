"""Serving without waiting: a running server keeps answering from its index while a new one is built (in the
same process, by `assistant index update` in another terminal, or in a background process), picks the new one
up when it is swapped in, and keeps the old one when a build dies."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


from assistant.corpus.article import Article
from assistant.corpus.store import LawDocument, LawInfo
from assistant.search import build_index
from assistant.search.index import current_build, read_build_status
from assistant.search.live import LiveRetriever, serving_retriever, start_background_build

ROOT = Path(__file__).resolve().parents[1]
NEW_LAW = "并发测试二法"


def _add_small_law(store, run: str = "") -> None:
    arts = [Article(law=NEW_LAW, number=1, text=f"为了规范示例无人机航拍活动{run}，制定本法。"),
            Article(law=NEW_LAW, number=2, text=f"无人机航拍活动应当向示例航拍管理部门报备{run}。")]
    store.import_laws([LawDocument(LawInfo(law=NEW_LAW, short_name=NEW_LAW, status="现行有效"), arts)])


def _laws(hits) -> set[str]:
    return {h.article.law for h in hits}


def test_a_running_server_picks_up_an_index_swapped_in_by_another_command(fixture_store, tmp_path):
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    live = LiveRetriever.open(fixture_store, idx, check_seconds=0.0)
    old_build = live.build
    assert NEW_LAW not in _laws(live.search("无人机航拍活动报备", top_k=5))

    _add_small_law(fixture_store)
    # `assistant index update` in another terminal: a separate process swaps CURRENT
    env = dict(os.environ, ASSISTANT_DB=str(fixture_store.path), ASSISTANT_INDEX=str(idx), PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "assistant.cli", "index", "update", "--json"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["reused"] is False

    live.watch(0.05)  # what serve does: the watcher loads the new build before any question arrives
    deadline = time.monotonic() + 60
    while live.build == old_build and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live.build != old_build and live.swaps == 1
    hits = live.search("无人机航拍活动报备", top_k=5)
    assert hits[0].article.law == NEW_LAW  # without --law: a new two-article law is found by a plain query


def test_old_index_answers_until_the_new_build_is_complete(fixture_store, tmp_path):
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    live = LiveRetriever.open(fixture_store, idx, check_seconds=0.0)
    old_build = live.build
    _add_small_law(fixture_store)

    reached_write, release = threading.Event(), threading.Event()

    def pause_before_swap(stage: str) -> None:
        if stage == "write":
            reached_write.set()
            release.wait(60)

    builder = threading.Thread(target=build_index, args=(fixture_store, idx),
                               kwargs={"embedder": "bm25-only", "progress": False, "on_stage": pause_before_swap})
    builder.start()
    try:
        assert reached_write.wait(60)
        status = read_build_status(idx)  # what `assistant index info` shows as being built
        assert status["alive"] and status["stage"] == "write" and status["embedder_id"] is None
        for _ in range(3):  # mid-build: the old index still answers, and does not know the new law
            assert live.refresh(wait=False) and live.build == old_build
            assert NEW_LAW not in _laws(live.search("无人机航拍活动报备", top_k=5))
    finally:
        release.set()
        builder.join(60)
    assert read_build_status(idx) is None
    assert live.refresh(wait=True, timeout=60) and live.build != old_build
    assert live.search("无人机航拍活动报备", top_k=5)[0].article.law == NEW_LAW


def test_a_killed_background_build_leaves_the_old_index_serving(fixture_store, tmp_path):
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    live = LiveRetriever.open(fixture_store, idx, check_seconds=0.0)
    old_build = live.build
    _add_small_law(fixture_store, run="（第二版）")
    os.environ["ASSISTANT_DB"] = str(fixture_store.path)
    try:
        proc = start_background_build(idx, "bm25-only", log_path=tmp_path / "build.log")
    finally:
        del os.environ["ASSISTANT_DB"]
    deadline = time.monotonic() + 120
    while read_build_status(idx) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # wait until the child has started building, then kill it mid-way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert current_build(idx).name == old_build
    assert not live.refresh(wait=False) or live.build == old_build
    assert live.build == old_build and live.search("夫妻双方自愿离婚", top_k=3)
    status = read_build_status(idx)
    assert status is None or status["alive"] is False  # `index info` calls it an interrupted build


def test_serve_answers_at_once_from_the_old_index_and_swaps_in_the_background_build(fixture_store, tmp_path,
                                                                                   monkeypatch):
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    _add_small_law(fixture_store)
    monkeypatch.setenv("ASSISTANT_DB", str(fixture_store.path))
    live, proc = serving_retriever(fixture_store, idx)
    assert proc is not None  # the corpus changed: the new index is built beside the serving one
    assert live.search("夫妻双方自愿离婚", top_k=3)  # answers before the build is done
    assert proc.wait(300) == 0, (tmp_path / "search" / "background_build.log").read_text()
    assert live.refresh(wait=True, timeout=60)
    assert live.search("无人机航拍活动报备", top_k=3)[0].article.law == NEW_LAW
    live2, proc2 = serving_retriever(fixture_store, idx)
    assert proc2 is None and live2.build == live.build  # up to date: nothing to build


def test_a_newly_imported_small_law_is_found_without_naming_it(fixture_store, tmp_path):
    """The law prior prefers big codes, but must not bury a two-article law that a question matches word for
    word (regression: a new 并发测试二法 lost to the big law's articles unless --law was given)."""
    big = "示例综合管理大法"
    arts = [Article(law=big, number=i, text=(f"第{i}类无人机的适航、登记和飞行活动，由有关部门管理。" if i % 50 == 0 else
                                             f"单位和个人开展第{i}类示例活动的，应当向有关部门报备，并遵守管理规定。"))
            for i in range(1, 601)]
    fixture_store.import_laws([LawDocument(LawInfo(law=big, short_name=big, status="现行有效"), arts)])
    _add_small_law(fixture_store)
    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    live = LiveRetriever.open(fixture_store, idx)
    for question in ("无人机航拍活动要向谁报备？", "无人机航拍活动报备"):
        hits = live.search(question, top_k=5)
        assert hits[0].article.law == NEW_LAW and hits[0].article.number == 2, [h.id for h in hits]


def test_answers_follow_a_live_swap_with_the_new_builds_word_statistics(fixture_store, tmp_path):
    from assistant.answer.pipeline import build_assistant

    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    live = LiveRetriever.open(fixture_store, idx, check_seconds=0.0)
    bot = build_assistant("extractive", store=fixture_store, retriever=live)
    old = live.current
    assert bot.gate.retriever is old
    _add_small_law(fixture_store)
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    assert live.refresh(wait=True) and live.current is not old
    answer = bot.ask("无人机航拍活动要向谁报备")
    # the gate and the clause selector judge with the serving build (its vocabulary knows the new law's words)
    assert bot.gate.retriever is live.current and bot._serving is live.current
    assert answer.sources and answer.sources[0].article.law == NEW_LAW
