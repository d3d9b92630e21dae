"""Asking what the statutes do not answer: the relevance gate refuses what is not a legal question, names a
law the corpus lacks (and searches it by subject), and says which law replaced a repealed one. Real fixture
store, real index, real pipeline; the gate is the fitted one shipped with the package."""
from __future__ import annotations


def test_off_topic_questions_are_refused_without_statutes(extractive):
    for q in ("今天天气怎么样", "推荐北京火锅店", "红烧肉怎么做才好吃"):
        answer = extractive.ask(q)
        assert answer.finish_reason == "refused" and not answer.sources and not answer.citations, q
        assert "《" not in answer.text


def test_law_missing_from_the_corpus_is_named(extractive):
    answer = extractive.ask("《工伤保险条例》规定劳动者解除劳动合同要赔偿吗")
    assert answer.text.startswith("法条库中没有《工伤保险条例》")
    assert answer.finish_reason != "refused"


def test_a_book_title_in_book_marks_is_not_taken_for_a_missing_law(extractive):
    assert extractive.gate.law_notes("《罪与罚》这本书值得看吗？").missing == []
    answer = extractive.ask("《罪与罚》这本书值得看吗？")
    assert answer.finish_reason == "refused" and not answer.sources
    assert extractive.gate.law_notes("《工伤保险条例》第十四条").missing == ["工伤保险条例"]


def test_repealed_law_gets_its_successor(extractive):
    answer = extractive.ask("婚姻法第三十二条规定的离婚条件是什么")
    assert answer.text.startswith("《婚姻法》已废止，现由《民法典》取代")
    assert answer.sources and all(h.article.law == "中华人民共和国民法典" for h in answer.sources)
    assert all(c.verdict != "repealed" for c in answer.citations)  # the note names no article of 婚姻法


def test_article_numbers_are_not_law_names_and_a_missing_law_is_searched_by_subject(extractive):
    answer = extractive.ask("婚姻法第三十二条怎么规定的")
    assert answer.text.startswith("《婚姻法》已废止") and "法条库中没有" not in answer.text
    notes = extractive.gate.law_notes("工伤保险条例第十四条")
    assert notes.missing == ["工伤保险条例"]
    assert "工伤保险" in notes.query and "第十四条" not in notes.query  # its number would match other laws'


def test_gate_fitted_file_and_variants():
    from assistant.answer.gate import FEATURES, VARIANT_DROPS, load_gate_model

    model = load_gate_model()
    assert model is not None and tuple(model["features"]) == FEATURES
    assert set(model["variants"]) == set(VARIANT_DROPS)
    for name, drop in VARIANT_DROPS.items():
        coef = dict(zip(FEATURES, model["variants"][name]["coef"]))
        assert all(coef[f] == 0.0 for f in drop)
