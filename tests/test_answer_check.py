"""Citation checker on hand-written texts against the fixture statutes, and the `assistant check` command."""
from __future__ import annotations

import json

import pytest

from assistant.answer.check import CitationChecker
from assistant.cli import main


@pytest.fixture
def checker(fixture_store):
    return CitationChecker(fixture_store)


def by_span(checks):
    return {c.citation.span: c for c in checks}


def test_real_citation_is_verified_and_supported(checker):
    text = "醉酒驾驶机动车的，依照《中华人民共和国刑法》第一百三十三条之一，处拘役，并处罚金。"
    [c] = checker.check(text)
    assert c.citation.id == "中华人民共和国刑法#133之一"
    assert (c.exists, c.status, c.verdict, c.in_context) == (True, "current", "verified", None)
    assert c.support_label == "supported" and c.support_score > 0.5
    assert c.suggestion is None


def test_short_forms_resolve_to_the_same_article(checker):
    for text in ("刑法第133条之一规定醉酒驾驶机动车的处拘役。", "依照刑法133-1，醉酒驾驶机动车的处拘役。",
                 "《刑法》第一百三十三条之一：醉酒驾驶机动车的，处拘役。"):
        [c] = checker.check(text)
        assert c.citation.id == "中华人民共和国刑法#133之一", text
        assert c.verdict == "verified"


def test_fabricated_number_is_not_found_and_repaired(checker):
    text = "根据《民法典》第一千三百七十九条，夫妻一方要求离婚的，可以由有关组织进行调解或者直接向人民法院提起离婚诉讼。"
    [c] = checker.check(text)
    assert (c.exists, c.verdict) == (False, "not_found")
    assert "1379" in c.reason or "第1379条" in c.reason
    assert c.suggestion == "《中华人民共和国民法典》第一千零七十九条"
    assert c.suggestion_id == "中华人民共和国民法典#1079"


def test_nonexistent_suffix_and_wrong_law(checker):
    checks = by_span(checker.check("《中华人民共和国刑法》第一百三十三条之五规定了危险驾驶。"
                                   "另见《中华人民共和国劳动合同法》第一千零七十六条。"))
    assert checks["《中华人民共和国刑法》第一百三十三条之五"].verdict == "not_found"
    wrong = checks["《中华人民共和国劳动合同法》第一千零七十六条"]
    assert (wrong.exists, wrong.verdict) == (False, "not_found")


def test_existing_article_that_says_something_else_is_unsupported(checker):
    text = "根据《民法典》第1043条，夫妻一方要求离婚的，可以由有关组织进行调解或者直接向人民法院提起离婚诉讼。"
    [c] = checker.check(text)
    assert c.exists and c.verdict == "verified"
    assert c.support_label == "unsupported"
    assert c.suggestion_id == "中华人民共和国民法典#1079"


def test_repealed_law_names_and_repealed_articles(checker):
    checks = checker.check("依照《合同法》第五十二条，该合同无效。依照示例物业管理办法第二条公开收费标准。")
    assert [c.verdict for c in checks] == ["repealed", "repealed"]
    assert checks[0].status == "repealed" and not checks[0].exists and "民法典" in checks[0].reason
    assert checks[1].exists and checks[1].status == "repealed"


def test_unknown_law_is_unresolved(checker):
    [c] = checker.check("依照《火星移民管理条例》第三条办理。")
    assert c.citation.law is None
    assert c.verdict == "unresolved" and not c.exists


def test_ranges_lists_and_anaphora(checker):
    checks = checker.check("《中华人民共和国刑法》第二百三十二条至第二百三十四条规定了侵犯人身权利的犯罪；"
                           "本法第一条、第二条说明立法目的。")
    ids = [c.citation.id for c in checks]
    assert ids == ["中华人民共和国刑法#232", "中华人民共和国刑法#233", "中华人民共和国刑法#234",
                   "中华人民共和国刑法#1", "中华人民共和国刑法#2"]
    verdicts = {c.citation.id: c.verdict for c in checks}
    assert verdicts["中华人民共和国刑法#233"] == "not_found"  # the fixture 刑法 has no 第二百三十三条
    assert verdicts["中华人民共和国刑法#232"] == verdicts["中华人民共和国刑法#1"] == "verified"


def test_paragraph_and_item_that_do_not_exist(checker):
    checks = checker.check("《中华人民共和国刑法》第一百三十三条之一第一款第（二）项规定醉酒驾驶机动车的处拘役。"
                           "《中华人民共和国刑法》第一百三十三条之一第三款另有规定。")
    assert checks[0].citation.paragraph == 1 and checks[0].citation.item == 2
    assert checks[0].verdict == "verified"
    assert checks[1].exists and checks[1].verdict == "not_found" and "款" in checks[1].reason


def test_a_citation_missing_from_the_given_context_is_flagged_not_in_context(checker):
    ctx = checker.parse_context("民法典第1076条,民法典第1079条")
    assert ctx == {"中华人民共和国民法典#1076", "中华人民共和国民法典#1079"}
    checks = by_span(checker.check("协议离婚见《民法典》第1076条；诉讼离婚见《民法典》第1077条。", ctx))
    assert checks["《民法典》第1076条"].in_context is True and checks["《民法典》第1076条"].verdict == "verified"
    assert checks["《民法典》第1077条"].in_context is False
    assert checks["《民法典》第1077条"].verdict == "not_in_context"
    with pytest.raises(ValueError, match="火星法"):
        checker.parse_context("火星法第1条")


def test_article_removed_in_a_later_version_is_superseded(fixture_store):
    from assistant.corpus import LawDocument

    law = "中华人民共和国刑法"
    arts = [a for a in fixture_store.articles(law) if a.number != 232]
    info = next(i for i in fixture_store.laws() if i.law == law)
    fixture_store.import_laws([LawDocument(info, arts)])
    [c] = CitationChecker(fixture_store).check("故意杀人的，依照《中华人民共和国刑法》第二百三十二条处罚。")
    assert (c.exists, c.status, c.verdict) == (False, "historical", "superseded")


def test_no_citations_and_empty_text(checker):
    assert checker.check("今天天气很好，有3条建议。") == []
    assert checker.check("") == []


# -- a basis line: "依据：《…》第N条" after the answer it supports --------------------------------------------
@pytest.mark.parametrize("layout", ["{claim}\n依据：{ref}[1]", "{claim}依据：{ref}[1]。", "{claim}\n\n法律依据：\n{ref}"])
def test_a_basis_line_after_the_answer_is_checked_against_that_answer(checker, layout):
    claim = "离婚冷静期为三十日，期间任何一方不愿意离婚的，可以向婚姻登记机关撤回离婚登记申请。"
    [c] = checker.check(layout.format(claim=claim, ref="《民法典》第1077条"))
    assert c.verdict == "verified" and c.support_label == "supported", (c.support_score, c.sentence)
    assert c.sentence.startswith("离婚冷静期为三十日") and "basis line" in c.reason


def test_a_basis_line_under_an_unrelated_claim_stays_unsupported(checker):
    [c] = checker.check("你可以先去买一份保险。\n依据：《民法典》第1077条[1]")
    assert c.support_label == "unsupported" and c.sentence == "你可以先去买一份保险。"


def test_a_reference_that_introduces_the_text_after_it_still_reads_forward(checker):
    text = "根据《民法典》第1079条规定：\n夫妻一方要求离婚的，可以由有关组织进行调解或者直接向人民法院提起离婚诉讼。"
    [c] = checker.check("离婚冷静期为三十日。" + text)
    assert c.support_label == "supported" and "提起离婚诉讼" in c.sentence and "冷静期" not in c.sentence


def test_support_of_any_sentence_is_public(checker, fixture_store):
    # what basis.py and other callers use instead of the checker's internals
    article = fixture_store.find("中华人民共和国民法典", 1077, "")
    score, label = checker.support("离婚登记申请之日起三十日内可以撤回离婚登记申请", article)
    assert label == "supported" and score > 0.5
    assert checker.support("今天天气很好", article) == (0.0, "unsupported")


# -- the command ----------------------------------------------------------------------------------------
@pytest.fixture
def store_env(fixture_store, monkeypatch):
    monkeypatch.setenv("ASSISTANT_DB", str(fixture_store.path))
    return fixture_store


def test_check_command_json_shape(store_env, capsys):
    rc = main(["check", "依照《民法典》第1076条办理；《民法典》第1300条不存在。", "--context",
               "民法典第1076条,民法典第1079条", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["citations", "counts"]
    assert out["counts"]["verified"] == 1 and out["counts"]["not_found"] == 1 and out["counts"]["not_yet_in_force"] == 0
    first, second = out["citations"]
    for key in ("span", "law", "number", "suffix", "exists", "status", "in_context", "support", "suggestion"):
        assert key in first
    assert set(first["support"]) == {"score", "label"}
    assert (first["span"], first["law"], first["number"], first["suffix"]) == \
        ("《民法典》第1076条", "中华人民共和国民法典", 1076, "")
    assert (first["exists"], first["status"], first["in_context"]) == (True, "current", True)
    assert (second["number"], second["exists"], second["in_context"], second["verdict"]) == \
        (1300, False, False, "not_found")


def test_check_command_stdin_file_and_batch(store_env, capsys, monkeypatch, tmp_path):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("刑法第133条之一"))
    assert main(["check", "-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["citations"][0]["suffix"] == "之一"
    f = tmp_path / "a.txt"
    f.write_text("刑法第二百三十二条", encoding="utf-8")
    assert main(["check", "--file", str(f), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["citations"][0]["number"] == 232

    batch = tmp_path / "b.jsonl"
    batch.write_text("\n".join([
        json.dumps({"text": "《民法典》第1076条", "context": ["民法典第1076条"]}, ensure_ascii=False),
        json.dumps({"text": "《民法典》第1076条", "context": ["民法典第1079条"]}, ensure_ascii=False),
        json.dumps({"txt": "oops"}),
        json.dumps({"text": "没有引用"}, ensure_ascii=False)]) + "\n", encoding="utf-8")
    assert main(["check", "--batch", str(batch), "--json"]) == 1  # one bad line
    captured = capsys.readouterr()
    lines = [json.loads(x) for x in captured.out.splitlines()]
    assert len(lines) == 4
    assert lines[0]["citations"][0]["in_context"] is True
    assert lines[1]["citations"][0]["in_context"] is False
    assert lines[2]["line"] == 3 and '"text"' in lines[2]["error"] and "b.jsonl:3" in captured.err
    assert lines[3]["citations"] == []


def test_check_command_needs_one_input(store_env, capsys):
    assert main(["check", "--json"]) == 2
    assert "exactly one" in capsys.readouterr().err


def test_cross_references_inside_a_quoted_context_article_are_not_the_answers_citations(tmp_path):
    from assistant.corpus import ArticleStore
    from assistant.corpus.parse import parse_statute_text

    store = ArticleStore(tmp_path / "s.sqlite")
    store.import_law(parse_statute_text(
        "示例法\n第一条　为了示例，制定本法。\n第二条　违反本法第一条规定的，责令改正并处以罚款。\n", "x.txt"))
    checker = CitationChecker(store)
    answer = "《示例法》第二条规定：违反本法第一条规定的，责令改正并处以罚款。另见示例法第九条。"
    quoted = checker.check(answer, context_ids=["示例法#2"])
    assert [c.citation.span for c in quoted] == ["《示例法》第二条", "示例法第九条"]
    assert quoted[1].verdict == "not_found"
    # without the article in context the same words are the answer's own claim and are checked
    assert "本法第一条" in [c.citation.span for c in checker.check(answer)]


def test_a_name_two_versions_share_is_decided_by_the_answers_sources(tmp_path):
    """《示例修正案》第二条 fits the 1999 and the 2004 amendment alike: among the answer's sources only the 2004
    one's 第二条 is given, so that is the article the answer quotes; without sources it stays unresolved."""
    from assistant.corpus import ArticleStore
    from assistant.corpus.article import Article
    from assistant.corpus.laws import short_name
    from assistant.corpus.store import LawDocument, LawInfo

    docs = []
    for year, texts in (("1999", ("示例条款甲增加一款。", "示例条款乙修改为：“公民享有示例权利。”")),
                        ("2004", ("示例条款丙增加一款。", "示例条款丁修改为：“国家尊重和保障示例权利。”"))):
        law = f"示例修正案（{year}年）"  # as the default corpus names its 宪法修正案
        info = LawInfo(law=law, short_name=short_name(law), status="现行有效")
        docs.append(LawDocument(info, [Article(law=law, number=n, text=t, law_short=info.short_name, status="现行有效")
                                       for n, t in enumerate(texts, 1)]))
    store = ArticleStore(tmp_path / "s.sqlite")
    store.import_laws(docs)
    checker = CitationChecker(store)
    answer = "《示例修正案》第二条[1]规定：\n示例条款丁修改为：“国家尊重和保障示例权利。”"
    [c] = checker.check(answer, context_ids=["示例修正案（2004年）#2"])
    assert c.citation.id == "示例修正案（2004年）#2" and c.verdict == "verified" and c.in_context
    [c] = checker.check(answer)
    assert c.citation.id is None and c.verdict == "unresolved"
    store.close()
