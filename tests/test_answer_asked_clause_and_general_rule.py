"""Questions nobody here has seen: the answer leads with the 款 that holds what is asked about (运费谁出: the 款 on
who pays the return postage, not the 款 on the seven days the question also names), and when no retrieved 款
decides the question it says so and quotes the general rule of the matter (the 违约责任 chapter of the contract
book's 通则, for a landlord who keeps a deposit the statutes do not mention) instead of a special rule about
something else. Real store and index (BM25 + the default embedder) over two statute-like laws written for
this test, the packaged clause model, the real pipeline."""
from __future__ import annotations

import pytest

from assistant.answer.clause_model import PACKAGED, SILENCE_FEATURES, ClauseModel
from assistant.answer.pipeline import build_assistant

#: statute-like texts written for this test (not the wording of any statute in force)
CONSUMER_LAW = """# 中华人民共和国示例消费者法

（示例文本：为测试编写，措辞与任何正式文本不同）

## 第一章 总则

**第一条** 为了保护消费者的合法权益，规范经营者的经营活动，制定本法。

## 第三章 经营者的义务

**第二十四条** 经营者提供的商品不符合质量要求的，消费者可以要求退货、更换或者修理。

**第二十五条** 经营者通过网络、电话、邮购等方式销售商品的，消费者有权自收到商品之日起七日内退货，无需说明理由，但消费者定作的商品除外。
其他根据商品性质不宜退货、并经消费者在购买时确认的商品，不适用无理由退货。
消费者退货的商品应当完好。经营者应当自收到退回商品之日起七日内退还消费者支付的价款。退回商品的运费由消费者承担；经营者和消费者另有约定的，按照约定。

**第二十六条** 经营者应当按照约定的时间和方式向消费者交付商品。
"""

CIVIL_LAW = """# 中华人民共和国示例民事法

（示例文本：为测试编写，措辞与任何正式文本不同）

## 第一编 合同

### 第一分编 通则

#### 第一章 一般规定

**第一条** 本编调整当事人之间因订立、履行合同产生的民事关系。

#### 第二章 违约责任

**第十条** 当事人一方不按照约定履行义务，或者履行义务不合约定的，应当向对方承担违约责任，包括继续履行、采取补救办法或者赔偿损失。

**第十一条** 当事人可以约定一方违约时按照违约情况向对方支付一定数额的违约金。

### 第二分编 典型合同

#### 第三章 租赁合同

**第二十条** 租赁合同是出租人把房屋等租赁物交给承租人使用、收益，承租人支付租金的合同。

**第二十一条** 承租人应当按照约定的期限支付租金。
承租人没有正当理由不支付租金的，出租人可以要求承租人在合理期限内支付；逾期仍不支付的，出租人可以解除合同。

**第二十二条** 出租人应当按照约定把房屋等租赁物交给承租人，并在租赁期内让租赁物符合约定的用途。
"""


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    from assistant.corpus import ArticleStore
    from assistant.corpus.parse import parse_file
    from assistant.search import load_retriever

    folder = tmp_path_factory.mktemp("laws")
    docs = []
    for name, text in (("shili_xiaofeizhe.md", CONSUMER_LAW), ("shili_minshi.md", CIVIL_LAW)):
        (folder / name).write_text(text, "utf-8")
        docs += parse_file(folder / name, status="现行有效").documents
    store = ArticleStore(folder / "corpus.sqlite")
    store.import_laws(docs)
    retriever = load_retriever(store=store, index_dir=tmp_path_factory.mktemp("index"), progress=False)
    yield build_assistant("extractive", store=store, retriever=retriever)
    store.close()


def _with_threshold(bot, threshold: float):
    """The packaged model with another silence threshold: 1.0, no lead decides; 0.0, every lead does."""
    packaged = ClauseModel.load(PACKAGED)
    bot.selector._model = ClauseModel(packaged.booster, dict(packaged.meta, silence=dict(packaged.meta["silence"],
                                                                                             threshold=threshold)))
    return bot


def test_who_pays_the_return_postage_is_answered_by_the_clause_on_postage(bot):
    _with_threshold(bot, 0.0)
    answer = bot.ask("网购的衣服七天无理由退货，运费谁出")
    lead = answer.text.split("\n")[0]
    assert "退回商品的运费由消费者承担" in lead, lead
    assert "《示例消费者法》第二十五条第三款[1]" in lead and answer.sources[0].id == "中华人民共和国示例消费者法#25"


def test_a_question_that_does_not_ask_about_postage_is_not_answered_with_it(bot):
    # the same article, asked about returning at all: the 款 on postage holds nothing asked about, so the
    # model's choice among the article's 款 stands (whatever it is, it is not the one on postage)
    _with_threshold(bot, 0.0)
    lead = bot.ask("网购的东西不想要了，能七天无理由退货吗").text.split("\n")[0]
    assert "第二十五条" in lead and "运费" not in lead, lead


def test_a_landlord_keeping_the_deposit_gets_the_general_rule_on_breach(bot):
    # nothing here speaks of a deposit: when no 款 decides, the answer says so and quotes the rule of the
    # contract book's general part that governs not performing what one agreed, then the lease rules
    _with_threshold(bot, 1.0)
    answer = bot.ask("房东不退押金怎么办")
    first, second = answer.text.split("\n")[:2]
    assert first.startswith("在法条库中没有找到直接规定") and first.endswith("以下是相关的一般规定。"), first
    assert second.startswith("依据《示例民事法》第十条[1]，当事人一方不按照约定履行义务"), second
    assert answer.sources[0].via == "general"
    assert any(h.article.chapter == "第三章 租赁合同" for h in answer.sources[1:])
    [c] = [c for c in answer.citations if c.citation.id == "中华人民共和国示例民事法#10"]
    assert c.verdict == "verified"


def test_a_general_part_that_only_states_its_scope_gives_no_general_rule(bot):
    # the consumer law's 总则 only says why the law is made: the nearest rule is quoted as before
    _with_threshold(bot, 1.0)
    answer = bot.ask("网购的衣服七天无理由退货，运费谁出")
    first = answer.text.split("\n")[0]
    assert first.endswith("以下是最接近的规定。"), first
    assert all(h.via != "general" for h in answer.sources)


def test_a_confident_answer_is_not_replaced_by_the_general_rule(bot):
    _with_threshold(bot, 0.0)
    answer = bot.ask("房东不退押金怎么办")
    assert not answer.text.startswith("在法条库中没有找到直接规定")
    assert all(h.via != "general" for h in answer.sources)


def test_whether_a_clause_decides_reads_whether_it_holds_the_users_words(bot):
    # the 款 on postage holds what the postage question's user wrote; no retrieved 款 holds the landlord or the
    # deposit: with the same scores, the packaged silence fit trusts a lead holding the user's words more
    bot.selector._model = None  # the packaged model, as shipped
    evidence = {}
    for question in ("网购的衣服七天无理由退货，运费谁出", "房东不退押金怎么办"):
        selection = bot.selector.select(question, bot.retriever.search(question, top_k=8))
        assert len(selection.silence_evidence) == len(SILENCE_FEATURES)
        evidence[question] = selection
    postage, deposit = evidence.values()
    share = SILENCE_FEATURES.index("lead_own_share")
    assert postage.silence_evidence[share] > 0.3 and deposit.silence_evidence[share] == 0.0
    model = bot.selector.model
    fitted = model.meta["silence"]["features"]
    assert "lead_own_share" in fitted and fitted == list(SILENCE_FEATURES[:len(fitted)])
    # the deposit question's scores with the postage question's word evidence: more confident
    assert model.confidence(*deposit.silence_evidence[:2], *postage.silence_evidence[2:]) > model.confidence(
        *deposit.silence_evidence)


def test_a_silence_fit_reads_the_evidence_it_was_fitted_with():
    # a fit on the scores alone (two coefficients) reads the first two; a fit on more cannot do with fewer
    scores_only = ClauseModel(None, {"silence": {"coef": [1.0, 2.0], "intercept": -1.0, "threshold": 0.2}})
    assert scores_only.confidence(0.5, 0.25) == pytest.approx(0.5)
    assert scores_only.confidence(0.5, 0.25, 1.0, 0.0, 0.9) == pytest.approx(0.5)
    with_words = ClauseModel(None, {"silence": {"coef": [1.0, 2.0, 0.0, 3.0, 0.0], "intercept": -1.0}})
    assert with_words.confidence(0.5, 0.25, 1.0, 0.5, 0.9) > with_words.confidence(0.5, 0.25, 1.0, 0.0, 0.9)
    with pytest.raises(ValueError):
        with_words.confidence(0.5, 0.25)


def test_the_general_part_is_the_nearest_one_that_encloses_the_rule():
    from assistant.answer.general import general_part, heading_units

    paths = [heading_units("第一编 合同 第一分编 通则", "第一章 一般规定"),
             heading_units("第一编 合同 第一分编 通则", "第二章 违约责任"),
             heading_units("第一编 合同 第二分编 典型合同", "第三章 租赁合同"),
             heading_units("第二编 侵权", "第一章 一般规定"), heading_units("第二编 侵权", "第四章 动物致害")]
    assert paths[2] == ["第一编 合同", "第二分编 典型合同", "第三章 租赁合同"]
    assert general_part(paths[2], paths) == ("第一编 合同", "第一分编 通则")
    assert general_part(paths[4], paths) == ("第二编 侵权", "第一章 一般规定")
    # a rule already in the contract book's general part: the general part of that part (its 一般规定)
    assert general_part(paths[1], paths) == ("第一编 合同", "第一分编 通则", "第一章 一般规定")
    assert general_part(heading_units(None, "第三章 经营者的义务"), [["第三章 经营者的义务"]]) is None
