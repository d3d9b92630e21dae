"""Asking a question: the extractive answer opens with the fact that answers it (a period, a penalty, a rule),
quoting the deciding 款, for a follow-up too; a broken gate or clause selector never costs the answer. Real
fixture store, real index (BM25 + the default embedder), real pipeline."""
from __future__ import annotations

import pytest

from assistant.answer.pipeline import build_assistant


def test_cooling_off_question_opens_with_thirty_days_and_article_1077(extractive):
    answer = extractive.ask("离婚冷静期是多久")
    first = answer.text.split("\n")[0]
    assert first.startswith("离婚冷静期为三十日：依据《民法典》第一千零七十七条[1]，自婚姻登记机关收到离婚登记申请之日起三十日内")
    assert answer.sources[0].id == "中华人民共和国民法典#1077"
    [c] = [c for c in answer.citations if c.citation.id == "中华人民共和国民法典#1077"]
    assert c.verdict == "verified" and c.support_label == "supported"
    # the "no generative model" notice is a field, said once, not part of the answer
    assert "未配置生成式模型" not in answer.text and "未配置生成式模型" in answer.notice
    assert answer.to_dict()["notice"] == answer.notice and answer.fact_flags == []


def test_penalty_question_leads_with_the_penalty(extractive):
    answer = extractive.ask("醉驾怎么处罚")
    first = answer.text.split("\n")[0]
    assert first.startswith("依法处拘役，并处罚金：依据《刑法》第一百三十三条之一第一款[1]")


def test_severance_question_states_the_rule(extractive):
    answer = extractive.ask("经济补偿怎么算")
    assert "每满一年支付一个月工资" in answer.text.split("\n")[0]
    assert any(c.citation.id == "中华人民共和国劳动合同法#47" and c.ok for c in answer.citations)


def test_a_short_article_is_quoted_whole_after_its_deciding_paragraph(extractive):
    # the 款 that answers leads, cited as a 款; the article's other 款 follow, each cited and checked, so a
    # reader sees the rule's other half without opening the source
    answer = extractive.ask("已经上班了，公司没签书面劳动合同，多久内必须签？")
    lead, rest = answer.text.split("\n")[:2]
    assert "第十条第二款[1]" in lead and "一个月内订立书面劳动合同" in lead, lead
    assert rest == "《劳动合同法》第十条第一款[1]规定：“建立劳动关系，应当订立书面劳动合同。”", rest
    checked = {(c.citation.id, c.citation.paragraph): c for c in answer.citations}
    assert checked[("中华人民共和国劳动合同法#10", 1)].verdict == "verified"
    assert checked[("中华人民共和国劳动合同法#10", 2)].verdict == "verified"


def test_a_long_article_keeps_only_its_deciding_paragraph():
    from assistant.answer.backends.extractive import WHOLE_ARTICLE_CHARS, rest_of_article
    from assistant.answer.select import Clause
    from assistant.corpus.article import Article
    from assistant.search.types import Hit

    def clause_of(paragraphs, chosen=1):
        article = Article(law="中华人民共和国示例法", number=3, text="\n".join(paragraphs))
        hit = Hit(article=article, score=1.0, rank=1, via="bm25")
        return Clause(hit=hit, paragraph=chosen, text=paragraphs[chosen], score=1.0)

    short = clause_of(["第一款的规定。", "第二款的规定。", "第三款的规定。"])
    assert rest_of_article(short, 2) == ["《示例法》第三条第一款[2]规定：“第一款的规定。”",
                                         "《示例法》第三条第三款[2]规定：“第三款的规定。”"]
    long = clause_of(["甲" * WHOLE_ARTICLE_CHARS, "第二款的规定。"])
    assert rest_of_article(long, 2) == [] and rest_of_article(clause_of(["只有一款。"], 0), 1) == []


def test_question_types_and_topics():
    from assistant.search.query import question_type, read_query, topic_of

    assert question_type("离婚冷静期是多久") == "period"
    assert question_type("买到假货能赔几倍") == "multiple"
    assert question_type("醉驾怎么处罚") == "penalty"
    assert question_type("高空抛物谁负责") == "party"
    assert question_type("八岁孩子签的合同有效吗") == "validity"
    assert question_type("多少岁算成年人") == "age"
    assert topic_of("离婚冷静期是多久") == "离婚冷静期"
    assert topic_of("买到假货能赔几倍") is None  # not a noun phrase: the lead quotes the clause instead
    assert "欺诈" in read_query("买到假货能赔几倍").statute_text and "饲养的动物" in read_query("被狗咬了").statute_text


@pytest.mark.parametrize("question", ["离婚冷静期是三十天吗", "离婚冷静期可以撤回吗"])
def test_a_yes_no_question_is_not_answered_as_if_it_asked_for_a_period(extractive, question):
    # "离婚冷静期是三十天为三十日" / "离婚冷静期可以撤回为三十日" answer a question nobody asked: quote the clause
    lead = extractive.ask(question).text.split("\n")[0]
    assert "第一千零七十七条" in lead and "三十日" in lead, lead
    assert not lead.startswith(question.rstrip("吗？?")), lead


def test_a_question_with_a_modal_verb_has_no_noun_topic():
    from assistant.search.query import topic_of

    assert topic_of("试用期工资能比正式工资低多少") is None and topic_of("未成年人能签合同吗") is None
    assert topic_of("劳动能力鉴定要多久") == "劳动能力鉴定" and topic_of("试用期最长多久") == "试用期"


def test_a_follow_up_quotes_the_item_it_asks_about(extractive):
    first = extractive.ask("醉驾怎么处罚？")
    assert "醉酒驾驶机动车" in first.text.split("\n")[0]
    follow = extractive.ask("那追逐竞驶呢？", history=[("醉驾怎么处罚？", first.text)])
    lead = follow.text.split("\n")[0]
    assert "追逐竞驶" in lead and "醉酒驾驶机动车的" not in lead  # the follow-up's item, not the earlier turn's


def test_a_broken_gate_or_selector_never_costs_the_answer(store, retriever):
    bot = build_assistant("extractive", store=store, retriever=retriever)

    def boom(*args, **kwargs):
        raise RuntimeError("classifier file unreadable")

    bot.gate.judge = boom
    bot.gate.law_notes = boom
    answer = bot.ask("离婚冷静期是多久")
    assert answer.finish_reason == "stop" and "三十日" in answer.text
    bot.selector.select = boom
    answer = bot.ask("离婚冷静期是多久")
    assert answer.finish_reason == "stop" and answer.sources and "三十日" in answer.text
