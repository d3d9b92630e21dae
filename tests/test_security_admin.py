"""Secure by default: with no admin variables set, the statutes tab needs the one-time token printed at
start-up; guessing is locked out per client; an import that would remove most of a stored law is refused
(CLI and web) until it is confirmed, naming what it would remove."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ONE_ARTICLE_XINGFA = "中华人民共和国刑法\n\n第一条　为了惩罚犯罪，保护人民，制定本法。\n"


@pytest.fixture(scope="module")
def default_server(tmp_path_factory):
    """The app as `assistant serve` builds it with no admin variables set (WebConfig() from a clean env)."""
    import os

    from gradio_client import Client

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_fixture_store

    from assistant.answer.pipeline import build_assistant
    from assistant.search import build_index, load_retriever
    from assistant.webui.app import create_app, start_in_background
    from assistant.webui.config import WebConfig

    for var in ("ASSISTANT_ADMIN_USER", "ASSISTANT_ADMIN_PASSWORD", "ASSISTANT_ADMIN_TOKEN", "ASSISTANT_ADMIN_OPEN"):
        os.environ.pop(var, None)
    home = tmp_path_factory.mktemp("secure_default")
    store = build_fixture_store(home / "corpus.sqlite")
    build_index(store, home / "search", embedder="bm25-only", progress=False)
    retriever = load_retriever(store=store, index_dir=home / "search", build_if_missing=False, progress=False)
    config = WebConfig(login_free_failures=3)
    app = create_app(build_assistant("extractive", store=store, retriever=retriever), store, config=config)
    url = start_in_background(app)
    yield {"url": url, "app": app, "store": store, "client": lambda: Client(url, verbose=False)}
    app.close()
    store.close()


def test_anonymous_visitor_cannot_import_or_browse_by_default(default_server, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    config = default_server["app"].web_config
    assert config.auth_required and config.token_generated and len(config.admin_token) >= 20
    law = tmp_path / "xingfa.txt"
    law.write_text(ONE_ARTICLE_XINGFA, encoding="utf-8")
    store = default_server["store"]
    before = store.fingerprint()
    client = default_server["client"]()
    for api in ("/preview_statutes", "/import_statutes"):
        with pytest.raises(AppError, match="需要管理员登录"):
            client.predict([handle_file(str(law))], "现行有效", api_name=api)
    with pytest.raises(AppError, match="需要管理员登录"):
        client.predict("刑法第1条", api_name="/lookup_citation")
    assert store.fingerprint() == before
    # the fn_index of the private Enter-in-password event runs no server function: no second login path
    names = [d.get("api_name") for d in default_server["app"].config["dependencies"] if d.get("backend_fn")]
    assert names.count("admin_login") == 1 and not any(n and "login" in n and n != "admin_login" for n in names)


def test_the_start_up_token_logs_in_and_a_destructive_import_needs_confirmation(default_server, tmp_path):
    from gradio_client import handle_file

    token = default_server["app"].web_config.admin_token
    law = tmp_path / "xingfa.txt"
    law.write_text(ONE_ARTICLE_XINGFA, encoding="utf-8")
    store = default_server["store"]
    before = store.count()
    admin = default_server["client"]()
    assert "已登录" in str(admin.predict("", token, api_name="/admin_login"))
    preview = admin.predict([handle_file(str(law))], "现行有效", api_name="/preview_statutes")
    assert "将删除" in preview and "确认删除" in preview
    out = admin.predict([handle_file(str(law))], "现行有效", False, api_name="/import_statutes")
    assert "未导入任何内容" in out[0] and "将删除现有 7 条中的 6 条" in out[0] and "第133条之一" in out[0]
    assert store.count() == before and store.find("中华人民共和国刑法", 232) is not None
    out = admin.predict([handle_file(str(law))], "现行有效", True, api_name="/import_statutes")
    assert "导入完成" in out[0] and store.find("中华人民共和国刑法", 232) is None


def test_login_guessing_is_locked_out_per_client(default_server):
    client = default_server["client"]()
    token = default_server["app"].web_config.admin_token
    notes = [str(client.predict("admin", f"guess-{i}", api_name="/admin_login")) for i in range(5)]
    assert all("错误" in n for n in notes[:3]) and "次数过多" in notes[3]
    # while locked out even the right token is refused without being checked
    assert "次数过多" in str(client.predict("", token, api_name="/admin_login"))


def test_limiter_backs_off_exponentially_and_forgets_on_success():
    from assistant.webui.auth import LoginLimiter

    now = [0.0]
    limiter = LoginLimiter(free_failures=2, base_lockout=1.0, max_lockout=8.0, clock=lambda: now[0])
    assert [limiter.failure("a") for _ in range(2)] == [0.0, 0.0]
    lockouts = [limiter.failure("a") for _ in range(5)]
    assert lockouts == [1.0, 2.0, 4.0, 8.0, 8.0] and limiter.wait_seconds("a") == 8.0
    assert limiter.wait_seconds("b") == 0.0  # per client
    now[0] += 8.0
    assert limiter.wait_seconds("a") == 0.0
    limiter.success("a")
    assert limiter.failure("a") == 0.0


def test_open_tab_is_refused_beyond_loopback():
    from assistant.webui.config import WebConfig

    with pytest.raises(ValueError, match="loopback"):
        WebConfig(admin_open=True).validate(host="0.0.0.0")
    assert not WebConfig(admin_open=True).validate(host="127.0.0.1").auth_required
    configured = WebConfig(admin_user="u", admin_password="p").validate()
    assert configured.auth_required and not configured.token_generated


def _cli(*args, home, check=True):
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(home), *args],
                          capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_cli_import_that_would_wipe_a_law_is_refused_until_replace(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_fixture_store

    home = tmp_path / "home"
    build_fixture_store(home / "corpus.sqlite").close()
    law = tmp_path / "minfadian.jsonl"
    law.write_text(json.dumps({"law": "中华人民共和国民法典", "number": 1, "text": "只剩一条。"}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    proc = _cli("corpus", "import", str(law), home=home, check=False)
    assert proc.returncode == 1  # the file failed (each file of an import is its own transaction)
    assert "would remove 5 of its 5 articles" in proc.stderr and "第1043条" in proc.stderr
    assert "--replace" in proc.stderr and "not imported" in proc.stderr
    strict = _cli("corpus", "import", str(law), "--strict", home=home, check=False)
    assert strict.returncode == 2 and "would remove 5 of its 5 articles" in strict.stderr
    (diff,) = json.loads(_cli("corpus", "diff", str(law), "--json", home=home).stdout)
    assert diff["needs_replace"] and len(diff["removed"]) == 5
    assert json.loads(_cli("corpus", "stats", "--json", home=home).stdout)["articles"] == 19
    _cli("corpus", "import", str(law), "--replace", home=home)
    assert json.loads(_cli("corpus", "stats", "--json", home=home).stdout)["articles"] == 15


def test_gradio_api_bad_argument_types_are_clean_errors(default_server):
    from gradio_client.exceptions import AppError

    client = default_server["client"]()
    for args, message in [(("醉驾怎么处罚", [], 3, ["刑法"]), "law 必须是"),
                          (("醉驾怎么处罚", [1, 2], 3, ""), "history 格式不正确"),
                          (("醉驾怎么处罚", [], "abc", ""), "top_k 必须是整数"),
                          (("问" * 4001,), "问题太长")]:
        with pytest.raises(AppError, match=message) as err:
            client.predict(*args, api_name="/ask")
        assert "Traceback" not in str(err.value) and "attribute" not in str(err.value)
    data = client.predict("冷静期多久？", ["我想协议离婚"], api_name="/ask")  # bare-string history
    assert any(s["id"] == "中华人民共和国民法典#1077" for s in data["sources"])
