"""Exact lookup first: a question that names an article is answered from that article, however the law's name
is written around it (a category glued before it as in LawBench's recitation questions, 《》 or not), and a
note on a law the corpus lacks never takes its place. Real fixture store, real index, real pipeline."""
from __future__ import annotations

import pytest

ARTICLE_10 = "中华人民共和国劳动合同法#10"


@pytest.mark.parametrize("question", [
    "民法商法劳动合同法第十条的内容是什么？",  # LawBench 1-1 format: category + law name, no marks
    "社会法劳动合同法第十条的内容是什么？",
    "社会法《劳动合同法》第十条的内容是什么？",
    "社会法中华人民共和国劳动合同法第十条是怎么规定的",
])
def test_a_recitation_question_recites_the_article_it_names(extractive, question):
    answer = extractive.ask(question)
    assert "法条库中没有" not in answer.text, answer.text
    assert answer.sources[0].id == ARTICLE_10
    # laid out as the statute prints it: the question and the source line name the law
    assert answer.text.startswith("第十条[1]规定：\n建立劳动关系，应当订立书面劳动合同。"), answer.text
    [cit] = [c for c in answer.citations if c.citation.id == ARTICLE_10]  # the bare 第十条 is read as 劳动合同法's
    assert cit.verdict == "verified" and cit.support_label == "supported"


def test_articles_of_two_laws_recited_together_each_name_their_law(extractive):
    answer = extractive.ask("劳动合同法第十条和民法典第一千零七十七条的内容是什么")
    named = [h for h in answer.sources if h.via == "citation"]
    assert len(named) == 2
    for marker, hit in enumerate(answer.sources, 1):
        if hit.via == "citation":
            assert f"《{hit.article.law_short}》{hit.article.number_text}[{marker}]规定：" in answer.text
    assert [c.support_label for c in answer.citations] == ["supported", "supported"]


def test_a_missing_law_beside_a_cited_article_is_noted_but_the_article_is_answered(extractive):
    answer = extractive.ask("工伤保险条例和劳动合同法第十条分别怎么规定")
    assert answer.text.startswith("法条库中没有《工伤保险条例》")  # the note is still said ...
    assert answer.sources[0].id == ARTICLE_10  # ... but the named article is looked up, not a subject search


def test_a_missing_law_alone_is_still_noted_and_searched_by_subject(extractive):
    answer = extractive.ask("工伤保险条例第十四条怎么规定")
    assert answer.text.startswith("法条库中没有《工伤保险条例》")
    assert all(h.via != "citation" for h in answer.sources)  # its number would only match other laws' articles


def test_an_ambiguous_law_name_before_an_article_is_not_guessed(extractive):
    # 合同法 is repealed: its successor answers by subject, the old number is not looked up in 劳动合同法
    answer = extractive.ask("民法商法合同法第十条的内容是什么？")
    assert ARTICLE_10 not in [h.id for h in answer.sources if h.via == "citation"]


def test_an_ambiguous_short_name_before_an_article_lists_the_laws_it_may_mean(extractive, monkeypatch):
    from assistant.corpus.laws import LawResolver

    names = extractive.store.resolver().full_names + ["中华人民共和国国防交通法", "中华人民共和国道路交通安全法"]
    monkeypatch.setattr(extractive.store, "resolver", lambda: LawResolver(names))
    notes = extractive.gate.law_notes("交通法第一条的内容是什么？")
    assert notes.note.startswith("《交通法》不是一部法律的全称，可能指"), notes.note
    assert "《中华人民共和国国防交通法》" in notes.note and "《中华人民共和国道路交通安全法》" in notes.note
    assert "法条库中没有" not in notes.note
    assert extractive.gate.law_notes("工伤保险条例第十四条").note.startswith("法条库中没有《工伤保险条例》")
