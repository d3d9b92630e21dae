"""Which sources an answer stands on: the relevance gate judges the user's own words (an everyday word mapped
to statute wording is no evidence of a legal question), amendment documents give way to the base law's
consolidated article, and the general rule answers a question that names none of the special cases. Real
store (the fixture laws plus statute-like texts written here), real index, real pipeline."""
from __future__ import annotations

import pytest

from assistant.answer.pipeline import build_assistant
from assistant.corpus import LawDocument, LawInfo
from assistant.corpus.article import Article

TORT = "中华人民共和国示例侵权责任法"
TORT_TEXTS = {  # written for this test: a general rule and its special cases
    1245: "饲养的动物造成他人损害的，动物饲养人或者管理人应当承担侵权责任；但是，能够证明损害是因被侵权人故意"
          "或者重大过失造成的，可以不承担或者减轻责任。",
    1246: "违反管理规定，未对动物采取安全措施造成他人损害的，动物饲养人或者管理人应当承担侵权责任。",
    1247: "禁止饲养的烈性犬等危险动物造成他人损害的，动物饲养人或者管理人应当承担侵权责任。",
    1248: "动物园的动物造成他人损害的，动物园应当承担侵权责任；但是，能够证明尽到管理职责的，不承担侵权责任。",
    1249: "遗弃、逃逸的动物在遗弃、逃逸期间造成他人损害的，由动物原饲养人或者管理人承担侵权责任。",
    1250: "因第三人的过错致使动物造成他人损害的，被侵权人可以向动物饲养人或者管理人请求赔偿，也可以向第三人请求赔偿。",
}
CONSUMER = "中华人民共和国示例消费者权益保护法"
CONSUMER_TEXTS = {
    24: "经营者提供的商品不符合质量要求的，消费者可以要求退货、更换或者修理。",
    55: "经营者提供商品有欺诈行为的，应当按照消费者的要求增加赔偿其受到的损失，增加赔偿的金额为消费者购买商品"
        "的价款的三倍；增加赔偿的金额不足五百元的，为五百元。",
}
AMENDMENT = "中华人民共和国刑法修正案（八）"
AMENDMENT_TEXTS = [
    '在刑法第一百三十三条后增加一条，作为第一百三十三条之一："在道路上驾驶机动车追逐竞驶，情节恶劣的，或者在道路上'
    '醉酒驾驶机动车的，处拘役，并处罚金。"',
    "本修正案自2011年5月1日起施行。",
]


def _doc(law, doc_type, texts, chapter=None, labels=None):
    info = LawInfo(law=law, short_name=law.replace("中华人民共和国", ""), status="现行有效", doc_type=doc_type,
                   promulgated="2020-05-28", effective="2021-01-01", version_date="2020-05-28", source="test")
    arts = [Article(law=law, number=n, text=t, status="现行有效", promulgated="2020-05-28",
                    effective="2021-01-01", version_date="2020-05-28", source="test", position=i,
                    chapter=chapter, **({"number_text": labels[i]} if labels else {}))
            for i, (n, t) in enumerate(texts.items())]
    return LawDocument(info, arts)


@pytest.fixture(scope="module")
def assistant(tmp_path_factory):
    from conftest import build_fixture_store

    from assistant.search import load_retriever

    store = build_fixture_store(tmp_path_factory.mktemp("sources") / "fixture.sqlite")
    store.import_laws([
        _doc(TORT, "法律", TORT_TEXTS, chapter="第九章 饲养动物损害责任"),
        _doc(CONSUMER, "法律", CONSUMER_TEXTS, chapter="第七章 法律责任"),
        _doc(AMENDMENT, "修正案", dict(enumerate(AMENDMENT_TEXTS, 1)), labels=["条目一", "条目二"]),
    ])
    retriever = load_retriever(store=store, index_dir=tmp_path_factory.mktemp("index"), progress=False)
    yield build_assistant("extractive", store=store, retriever=retriever)
    store.close()


# -- the gate reads the user's own words ------------------------------------------------------------------
@pytest.mark.parametrize("question", ["周末带孩子去哪里玩", "去云南旅游有什么推荐", "红烧排骨的菜谱",
                                      "推荐几部好看的电影", "Java怎么写循环"])
def test_everyday_questions_that_map_to_statute_words_are_still_refused(assistant, question):
    answer = assistant.ask(question)
    assert answer.finish_reason == "refused" and not answer.sources, (question, answer.text[:60])


@pytest.mark.parametrize("question", ["买到假货能赔几倍", "被邻居的狗咬伤了谁负责", "醉驾怎么处罚",
                                      "离婚冷静期是多久"])
def test_legal_questions_in_everyday_words_are_answered(assistant, question):
    answer = assistant.ask(question)
    assert answer.finish_reason != "refused" and answer.sources, (question, answer.notice)


def test_mapped_words_count_only_as_far_as_the_question_reads_legal(assistant):
    from assistant.answer.gate import FEATURES

    gate, q = assistant.gate, "周末带孩子去哪里玩"
    hits = assistant.candidates(q, 15, dict(law=None, include_repealed=False, history=None))
    selection = assistant.selector.select(q, hits, top_k=5)
    # 孩子 -> 未成年人 子女: the statute wording matches the corpus better than the user's own words do, and
    # counts only as much as the classifier believes the question is legal
    own = dict(zip(FEATURES, gate.impute(gate.features(q, selection, text_probability=0.0))))
    trusted = dict(zip(FEATURES, gate.impute(gate.features(q, selection, text_probability=1.0))))
    evidence = [f for f in FEATURES if not f.endswith("probability")]
    assert all(own[f] <= trusted[f] for f in evidence) and any(own[f] != trusted[f] for f in evidence)
    assert own["top_cosine"] == pytest.approx(selection.top_own_cosine)
    assert trusted["top_cosine"] == pytest.approx(selection.top_cosine)
    assert own["semantic_probability"] == trusted["semantic_probability"]  # read from the user's words alone


# -- the gate reads what the question is about, not how it is asked ---------------------------------------
def test_asking_what_to_do_does_not_make_a_legal_problem_off_topic(assistant):
    # the text classifier's legal examples are mostly statute sentences; question words must not count
    clf = assistant.gate.classifier()
    for stem in ("在网上买东西被商家骗了", "买到的商品不符合质量要求"):
        assert clf.probability(stem + "怎么办？") == pytest.approx(clf.probability(stem))


def test_a_greeting_before_the_question_does_not_make_it_chit_chat(assistant):
    # chit-chat examples (你好, 你是谁) open with greetings; a consultation often does too
    clf = assistant.gate.classifier()
    for stem in ("目前想要离婚，需要做哪些准备", "公司拖欠工资三个月了"):
        assert clf.probability("您好，" + stem) == pytest.approx(clf.probability(stem))
        assert clf.probability("你好，我想咨询一下" + stem) == pytest.approx(clf.probability(stem))


@pytest.mark.parametrize("question", ["网上购物被卖家骗了钱怎么办", "在网店买东西上当受骗了怎么办"])
def test_a_shopper_cheated_online_gets_the_consumer_law_not_a_refusal(assistant, question):
    answer = assistant.ask(question)
    assert answer.finish_reason != "refused" and answer.sources, (question, answer.notice)


def test_a_holiday_travel_question_is_refused_with_a_clear_margin(assistant):
    gate, q = assistant.gate, "国庆假期去哪里旅游比较好"
    hits = assistant.candidates(q, 15, dict(law=None, include_repealed=False, history=None))
    result = gate.judge(q, assistant.selector.select(q, hits, top_k=5))
    model = gate.model["variants"].get(gate.variant(), gate.model)
    assert result.refuse and result.score < model["threshold"] / 2, result.reason
    # by meaning, being cheated online is a legal matter and a holiday trip is not
    assert gate.semantic_probability("网上购物被卖家骗了钱") > 0.5 > gate.semantic_probability(q)


def test_words_the_statutes_never_use_are_missing_evidence_not_evidence_against(assistant):
    # 买的手机坏了能退吗: no word of it is a statute word, which says nothing about whether it is a legal question
    from assistant.answer.gate import FEATURES

    gate = assistant.gate
    x = gate.features("买的手机坏了能退吗")
    spec = FEATURES.index("max_specificity")
    assert x[spec] is None
    typical = gate.model["missing"]["max_specificity"]
    assert typical > 1.0 and gate.impute(x)[spec] == typical
    assert gate.features("经营者提供商品有欺诈行为")[spec] is not None


def test_the_first_questions_to_a_new_server_all_wait_for_the_gate_they_are_judged_by(assistant):
    # the web app answers several questions at once: none may be judged before the semantic classifier exists
    import threading

    from assistant.answer.gate import RelevanceGate

    expected = assistant.gate.semantic_probability("网上购物被卖家骗了钱")
    gate = RelevanceGate(assistant.store, retriever=assistant.gate.retriever, model=assistant.gate.model)
    start, results = threading.Barrier(4), []

    def ask():
        start.wait()
        results.append(gate.semantic_probability("网上购物被卖家骗了钱"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [pytest.approx(expected)] * 4


# -- amendment documents give way to the consolidated article ------------------------------------------
def test_drunk_driving_sources_show_the_criminal_law_not_its_amendment(assistant):
    answer = assistant.ask("醉驾怎么处罚")
    ids = [h.id for h in answer.sources]
    assert "中华人民共和国刑法#133之一" in ids[:3]
    assert not any(h.article.kind == "修正案" for h in answer.sources), ids
    assert "修正案" not in answer.text


def test_an_amendment_alone_is_replaced_by_the_article_it_changed(assistant):
    from assistant.answer.amended import changed_articles, prefer_consolidated
    from assistant.search.types import Hit

    amendment = assistant.store.get(f"{AMENDMENT}#1")
    assert amendment is not None and amendment.kind == "修正案"
    assert changed_articles(amendment, assistant.store) == ["中华人民共和国刑法#133之一"]
    [hit] = prefer_consolidated([Hit(amendment, 1.0, 1, "bm25")], assistant.store)
    assert hit.id == "中华人民共和国刑法#133之一" and hit.via == "bm25"
    # the commencement item changes nothing: it stays as found
    commencement = assistant.store.get(f"{AMENDMENT}#2")
    assert [h.id for h in prefer_consolidated([Hit(commencement, 1.0, 1, "bm25")], assistant.store)] == [commencement.id]


def test_an_amendment_article_the_user_names_is_answered_as_itself(assistant):
    from assistant.answer.amended import prefer_consolidated
    from assistant.search.types import Hit

    amendment = assistant.store.get(f"{AMENDMENT}#1")
    [hit] = prefer_consolidated([Hit(amendment, 1.0, 1, "citation")], assistant.store)
    assert hit.id == amendment.id  # asked for by number: not swapped for the article it changed


# -- the general rule before its special cases -------------------------------------------------------------
def test_dog_bite_leads_with_the_general_rule_on_kept_animals(assistant):
    answer = assistant.ask("被邻居的狗咬伤了谁负责")
    assert answer.sources[0].id == f"{TORT}#1245", [h.id for h in answer.sources]
    assert "饲养的动物造成他人损害的" in answer.text.split("\n")[0]


def test_a_special_case_the_question_names_still_leads(assistant):
    answer = assistant.ask("动物园的动物咬伤了游客谁负责")
    assert answer.sources[0].id == f"{TORT}#1248", [h.id for h in answer.sources]
