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


def test_a_story_game_or_sport_that_borrows_legal_words_is_refused(extractive):
    # a drama's plot, a courtroom game, a sport's penalty, a board game's capture: legal words, no legal question
    for q in ("电视剧里那个黑社会老大最后被判了死刑吗", "逆转裁判里证据出示错了怎么办", "篮球比赛里犯规几次要被罚下场",
              "中国象棋里的车可以吃对方的将吗"):
        answer = extractive.ask(q)
        assert answer.finish_reason == "refused" and not answer.sources and not answer.citations, q


def test_a_game_or_platform_ban_is_refused_but_money_kept_after_a_ban_is_answered(extractive):
    # the platform's own rules (封号, 申诉) are not law; the money a company keeps after a ban is a legal question
    for q in ("王者荣耀账号因为挂机被封了三天，去哪里申诉解封", "B站评论被折叠了是违规了吗"):
        answer = extractive.ask(q)
        assert answer.finish_reason == "refused" and not answer.citations, q
    assert extractive.ask("游戏公司无故封了我的号，充值的两千块钱也不退，这合法吗").finish_reason != "refused"


def test_a_legal_question_asked_through_a_sport_is_answered(extractive):
    answer = extractive.ask("打篮球的时候故意把对手打成重伤，要负刑事责任吗")
    assert answer.finish_reason != "refused"
    assert any(h.article.number == 234 for h in answer.sources[:3])  # 故意伤害他人身体的 …
