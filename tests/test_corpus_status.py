"""Status on the day asked: a law revised with renumbering whose new version starts next year (fixtures
written here, dated relative to today), asked today, on a day after it starts, with --as-of, and through a
search filter on status; the checker's not_yet_in_force; the answer's version note."""
import datetime as dt
import json

import pytest
from conftest import run_cli as run

TODAY = dt.date.today()
NEXT = TODAY.year + 1
START = f"{NEXT}-01-01"
AFTER = f"{NEXT}-06-01"
LAW = "中华人民共和国示例商标法"
TERM = "注册商标的有效期为十年，自核准注册之日起计算。"
LICENCE = "商标注册人可以通过签订商标使用许可合同，许可他人使用其注册商标。"

OLD = f"""# {LAW}

1982年8月23日第五届全国人民代表大会常务委员会第二十四次会议通过 2019年4月23日第十三届全国人民代表大会常务委员会第十次会议第四次修正

<!-- INFO END -->

第一条 为了加强示例商标管理，保护商标专用权，制定本法。

第二条 {TERM}

第三条 {LICENCE}
"""

NEW = f"""# {LAW}

1982年8月23日第五届全国人民代表大会常务委员会第二十四次会议通过 {TODAY.year - 1}年6月26日第十四届全国人民代表大会常务委员会修订 自{NEXT}年1月1日起施行

<!-- INFO END -->

第一条 为了加强示例商标管理，保护商标专用权，促进示例经济发展，制定本法。

第二条 示例商标注册申请人应当遵循诚实信用原则，不得恶意申请商标注册。

第三条 {TERM}

第四条 {LICENCE}
"""


def _write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def both(tmp_path):
    """Both versions imported (the new one first: the old one goes behind it as history)."""
    home = tmp_path / "both"
    run("corpus", "import", _write(tmp_path / "new", "示例商标法(new).md", NEW), home=home)
    out = json.loads(run("corpus", "import", _write(tmp_path / "old", "示例商标法(2019-04-23).md", OLD), "--json",
                         home=home).stdout)
    assert out["files"][0]["outcome"] == "imported" and out["files"][0]["diffs"][0]["as_history"] == 3
    return home


@pytest.fixture
def new_only(tmp_path):
    home = tmp_path / "new_only"
    run("corpus", "import", _write(tmp_path / "new", "示例商标法(new).md", NEW), home=home)
    return home


def show(home, ref, *extra):
    return json.loads(run("corpus", "show", ref, "--json", *extra, home=home).stdout)


def test_status_is_computed_from_dates_for_any_day():
    from assistant.corpus.status import status_on

    assert status_on("现行有效", START, None, TODAY.isoformat()).label == f"尚未施行（{START}起施行）"
    assert status_on("现行有效", START, None, START).status == "现行有效"
    assert status_on("尚未生效", "2020-01-01", None, TODAY.isoformat()).status == "现行有效"  # the source is stale
    assert status_on("现行有效", "2019-04-23", START, AFTER).status == "已被修改"
    assert status_on("已废止", "2019-04-23", None, TODAY.isoformat()).status == "已废止"
    st = status_on("现行有效", START, None, TODAY.isoformat())
    assert st.source_status == "现行有效" and st.key == "not_yet_in_force" and not st.in_force


def test_show_today_says_not_yet_in_force_with_its_start_and_the_text_in_force(both):
    art = show(both, "示例商标法第三条")
    assert art["status"] == "尚未施行" and art["status_label"] == f"尚未施行（{START}起施行）"
    assert art["source_status"] == "现行有效" and art["text"] == TERM
    # under the same number the law in force today says something else: the 2019 text
    assert art["in_force"]["text"] == LICENCE and art["in_force"]["status"] == "现行有效"
    assert art["in_force"]["upcoming"] == START
    text = run("corpus", "show", "示例商标法第三条", home=both).stdout
    assert f"【尚未施行（{START}起施行）】" in text and LICENCE in text


def test_show_as_of_a_day_after_it_starts_treats_it_as_in_force(both):
    art = show(both, "示例商标法第三条", "--as-of", AFTER)
    assert art["status"] == "现行有效" and art["as_of"]["text"] == TERM and art["as_of"]["current"] is True
    before = show(both, "示例商标法第二条", "--as-of", "2020-01-01")
    assert before["as_of"]["text"] == TERM and before["as_of"]["status"] == "现行有效"


def test_show_new_only_says_not_yet_in_force(new_only):
    art = show(new_only, "示例商标法第三条")
    assert art["status_label"] == f"尚未施行（{START}起施行）" and "in_force" not in art
    early = run("corpus", "show", "示例商标法第三条", "--as-of", TODAY.isoformat(), home=new_only, check=False)
    assert early.returncode == 2 and f"尚未施行（{START}起施行）" in early.stderr


def test_laws_list_the_status_on_the_day(both, new_only):
    (law,) = json.loads(run("corpus", "laws", "--json", home=new_only).stdout)
    assert law["status"] == "尚未施行" and law["status_label"] == f"尚未施行（{START}起施行）"
    assert law["source_status"] == "现行有效"
    (law,) = json.loads(run("corpus", "laws", "--json", home=both).stdout)
    assert law["status"] == "现行有效" and law["upcoming"] == START
    (law,) = json.loads(run("corpus", "laws", "--json", "--as-of", AFTER, home=new_only).stdout)
    assert law["status"] == "现行有效"
    assert json.loads(run("corpus", "laws", "--json", "--status", "现行有效", home=new_only).stdout) == []
    bad = run("corpus", "laws", "--status", "有效", home=new_only, check=False)
    assert bad.returncode == 2 and "unknown status" in bad.stderr


def _store(home):
    from assistant.corpus import ArticleStore

    return ArticleStore(home / "corpus.sqlite")


def test_checker_reports_not_yet_in_force(both, new_only):
    from assistant.answer.check import CitationChecker
    from assistant.answer.labels import citation_badge

    sentence = "根据《示例商标法》第三条，注册商标的有效期为十年。"
    (c,) = CitationChecker(_store(new_only)).check(sentence)
    assert c.verdict == "not_yet_in_force" and c.status == "not_yet_in_force" and START in c.reason
    assert citation_badge(c).label == "尚未施行" and citation_badge(c).key != "verified"
    (c,) = CitationChecker(_store(new_only)).check(sentence, as_of=AFTER)
    assert c.verdict == "verified"
    # both stored: the sentence says what 第三条 says only in the new law; the provision in force is 第二条
    (c,) = CitationChecker(_store(both)).check(sentence)
    assert c.verdict == "not_yet_in_force" and c.suggestion_id == f"{LAW}#2"
    (c,) = CitationChecker(_store(both)).check("根据《示例商标法》第二条，注册商标的有效期为十年。")
    assert c.verdict == "verified" and c.status == "current"


def test_check_command_counts_not_yet_in_force(new_only):
    out = json.loads(run("check", "根据《示例商标法》第三条，注册商标的有效期为十年。", "--json",
                         home=new_only).stdout)
    assert out["counts"]["not_yet_in_force"] == 1 and out["counts"]["verified"] == 0
    out = json.loads(run("check", "根据《示例商标法》第三条，注册商标的有效期为十年。", "--json", "--as-of", AFTER,
                         home=new_only).stdout)
    assert out["counts"]["verified"] == 1


def test_eval_metrics_count_not_yet_in_force():
    from assistant.eval.metrics import aggregate_citations, score_citations

    s = score_citations([{"law": LAW, "number": 3, "suffix": "", "exists": True, "in_context": True,
                          "verdict": "not_yet_in_force", "status": "not_yet_in_force"}])
    assert s.not_yet_in_force == 1 and aggregate_citations([s])["not_yet_in_force_rate"] == 1.0


@pytest.fixture
def retriever_for(monkeypatch):
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", "none")

    def make(home):
        from assistant.search import build_index, load_retriever

        store = _store(home)
        build_index(store, home / "s", embedder="bm25-only", progress=False)
        return load_retriever(store, home / "s", build_if_missing=False)
    return make


def test_search_reads_the_law_in_force_and_filters_on_status(both, new_only, retriever_for):
    r = retriever_for(both)
    hit = r.search("注册商标的有效期", top_k=1)[0]
    # the 2019 provision (第二条) in force today, with the new law's start and number
    assert hit.id == f"{LAW}#2" and hit.article.text == TERM and hit.article.status == "现行有效"
    assert hit.article.extra["upcoming"] == START and hit.article.extra["renumbered_as"] == f"{LAW}#3"
    hit = r.search("注册商标的有效期", top_k=1, as_of=AFTER)[0]
    assert hit.id == f"{LAW}#3" and hit.article.status == "现行有效"

    r = retriever_for(new_only)
    hit = r.search("注册商标的有效期", top_k=1)[0]
    assert hit.id == f"{LAW}#3" and hit.article.status == "尚未施行"
    assert r.search("注册商标的有效期", status="现行有效") == []
    assert [h.id for h in r.search("注册商标的有效期", top_k=1, status="尚未施行")] == [f"{LAW}#3"]
    assert [h.id for h in r.search("注册商标的有效期", top_k=1, status="现行有效", as_of=AFTER)] == [f"{LAW}#3"]


def test_answer_says_only_the_new_law_is_stored_and_does_not_verify_it(new_only, both, retriever_for):
    from assistant.answer.pipeline import build_assistant

    store = _store(new_only)
    assistant = build_assistant("extractive", store=store, retriever=retriever_for(new_only))
    answer = assistant.ask("注册商标有效期多久")
    assert answer.text.startswith(f"现行示例商标法的条文不在法条库中；以下是{START}起施行的新法")
    assert answer.citations and all(c.verdict == "not_yet_in_force" for c in answer.citations
                                    if c.citation.law == LAW)
    assert not any(c.ok for c in answer.citations)
    later = assistant.ask("注册商标有效期多久", as_of=AFTER)
    assert not later.version_note and any(c.ok for c in later.citations)

    store = _store(both)
    answer = build_assistant("extractive", store=store, retriever=retriever_for(both)).ask("注册商标有效期多久")
    assert f"新法自{START}起施行" in answer.version_note and "第二条在新法中为第三条" in answer.version_note
    assert any(c.ok and c.citation.number == 2 for c in answer.citations)


def test_api_takes_as_of():
    from assistant.answer.api import OptionError, parse_request

    msgs = [{"role": "user", "content": "注册商标有效期多久"}]
    assert parse_request({"messages": msgs, "as_of": "2027年6月1日"})[2]["as_of"] == "2027-06-01"
    for bad in ("明年", 20270601, "2027-02-30"):
        with pytest.raises(OptionError) as exc:
            parse_request({"messages": msgs, "as_of": bad})
        assert exc.value.field == "as_of"


def test_a_law_with_articles_in_force_is_not_said_to_lack_its_current_text():
    # a law in force whose new revision adds an article: the added article is not yet in force, but the law's
    # current text is stored, so the note names the new article rather than saying the current law is missing
    from assistant.answer.pipeline import version_notes
    from assistant.corpus.article import Article
    from assistant.corpus.status import STATUS_NOT_IN_FORCE_YET
    from assistant.search.types import Hit

    current = Article(LAW, 3, LICENCE, extra={"upcoming": START})
    added = Article(LAW, 54, "示例新增条文。", status=STATUS_NOT_IN_FORCE_YET, extra={"effective_from": START})
    other = Article("中华人民共和国示例农业法", 9, "示例条文。", status=STATUS_NOT_IN_FORCE_YET,
                    extra={"effective_from": START})
    day = TODAY.isoformat()
    note = version_notes([Hit(current, 1.0, 1, "citation"), Hit(added, 0.5, 2, "bm25")], day)
    assert "条文不在法条库中" not in note
    assert f"以下依据{day}有效的示例商标法；修订后的新法自{START}起施行" in note and "第五十四条是新法的条文" in note
    # a law whose only stored text starts later is still said to be missing its current text
    assert version_notes([Hit(other, 1.0, 1, "bm25")], day).startswith("现行示例农业法的条文不在法条库中")


def test_a_provision_renumbered_beyond_the_old_law_reads_as_the_text_in_force(both, retriever_for):
    """The licence rule is 第三条 today and 第四条 of the new law, a number the old law did not have: asked today,
    search and the answer give today's 第三条 (the new number named beside it), not the new law's text."""
    from assistant.answer.pipeline import build_assistant

    r = retriever_for(both)
    hit = next(h for h in r.search("商标使用许可合同", top_k=3) if LICENCE in h.article.text)
    assert hit.article.number == 3 and hit.article.status == "现行有效"
    assert hit.article.extra["renumbered_as"] == f"{LAW}#4"
    answer = build_assistant("extractive", store=_store(both), retriever=r).ask("商标注册人能许可别人使用注册商标吗")
    assert answer.sources[0].article.number == 3
    assert any(c.ok and c.citation.number == 3 for c in answer.citations)
    assert not any(c.verdict == "not_yet_in_force" for c in answer.citations)
    # on a day after the new law starts, the same question reads the new 第四条
    later = r.search("商标使用许可合同", top_k=3, as_of=AFTER)
    assert any(h.article.number == 4 and LICENCE in h.article.text for h in later)
