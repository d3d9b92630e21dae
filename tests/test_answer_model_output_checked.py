"""Answers a model writes: numbers no cited article states are flagged, a citation on the basis line is
supported by the answer above it, and small models get the best clauses and an answer-first prompt. A
scripted backend writes fixed text through the real pipeline; a tiny real transformer streams."""
from __future__ import annotations

from assistant.answer.backends.base import Backend
from assistant.answer.pipeline import GroundedAssistant, build_assistant


# -- numbers the answer states that no cited article states -------------------------------------------
def test_fact_check_compares_chinese_and_arabic_numbers():
    from assistant.answer.facts import check_facts

    art = "饮酒后驾驶机动车的，处暂扣六个月机动车驾驶证，并处一千元以上二千元以下罚款。"
    flags = check_facts("酒驾暂扣6个月驾驶证，罚款1000元以上2000元以下，另处拘留十五日。依据第九十一条，2021年1月1日起。", [art])
    assert [f.text for f in flags] == ["十五日"]
    assert "没有出现" in flags[0].reason
    assert check_facts("罚款2万元", ["处二万元以下罚款"]) == []
    assert check_facts("百分之五十", ["按50%支付"]) == []
    # a number from the user's own question is a fact of the case, not an invented rule
    assert check_facts("你有两个孩子，离婚冷静期为三十日", ["三十日内"], question="我有两个孩子，冷静期多久") == []
    # working days are another period than calendar days
    assert [f.text for f in check_facts("应在三十个工作日内答复", ["自收到申请之日起三十日内答复"])] == ["三十个工作日"]


class Scripted(Backend):
    name = "scripted"

    def __init__(self, text, short_context=False):
        self.text, self.short_context, self.requests = text, short_context, []

    def stream(self, request):
        self.requests.append(request)
        yield from [self.text[:5], self.text[5:]]


def test_invented_amount_is_flagged_in_the_report(store, retriever):
    text = "醉驾的处拘役，并处罚金五千元，依据《中华人民共和国刑法》第一百三十三条之一[1]。"
    answer = GroundedAssistant(retriever, Scripted(text), store).ask("醉驾怎么处罚")
    assert [f.text for f in answer.fact_flags] == ["五千元"]
    assert "五千元" in answer.notice and not answer.clean
    assert answer.to_dict()["fact_check"][0]["unit"] == "yuan"


def test_citation_on_a_basis_line_is_supported_by_the_answer_above_it(store, retriever):
    text = "离婚冷静期是三十日：自婚姻登记机关收到离婚登记申请之日起三十日内，任何一方不愿意离婚的，可以撤回申请。\n依据：《中华人民共和国民法典》第一千零七十七条[1]"
    answer = GroundedAssistant(retriever, Scripted(text), store).ask("离婚冷静期是多久")
    [c] = answer.citations
    assert c.verdict == "verified" and c.support_label == "supported" and "basis line" in c.reason
    unrelated = "你可以去买一份保险。\n依据：《中华人民共和国民法典》第一千零七十七条[1]"
    [c] = GroundedAssistant(retriever, Scripted(unrelated), store).ask("离婚冷静期是多久").citations
    assert c.support_label != "supported"  # a claim the article does not make stays unsupported


def test_an_answer_that_names_no_article_gets_the_article_it_says_on_a_basis_line(store, retriever):
    # small models often state the rule in the article's own words and leave the citation out
    text = "离婚冷静期是三十日：自婚姻登记机关收到离婚登记申请之日起三十日内，任何一方不愿意离婚的，可以撤回申请。"
    answer = GroundedAssistant(retriever, Scripted(text), store).ask("离婚冷静期是多久")
    marker = 1 + [h.id for h in answer.sources].index("中华人民共和国民法典#1077")
    assert answer.text == text + f"\n依据：《民法典》第一千零七十七条[{marker}]", answer.text
    [c] = answer.citations
    assert c.verdict == "verified" and c.support_label == "supported" and c.in_context
    assert "补上" in answer.notice
    # nothing an article says: no basis line is made up for it
    unrelated = GroundedAssistant(retriever, Scripted("你可以去买一份保险，再咨询一下专业人士。"), store)
    answer = unrelated.ask("离婚冷静期是多久")
    assert "依据" not in answer.text and answer.citations == []
    # an answer that cites its article keeps the model's own citation and nothing is added
    cited = text + "依据《中华人民共和国民法典》第一千零七十七条[1]。"
    answer = GroundedAssistant(retriever, Scripted(cited), store).ask("离婚冷静期是多久")
    assert answer.text == cited and "补上" not in (answer.notice or "")


def test_small_models_get_the_best_clause_and_an_answer_first_instruction(store, retriever):
    from assistant.answer.prompt import SHORT_INSTRUCTION, SYSTEM_INSTRUCTION

    small = Scripted("离婚冷静期为三十日。依据：《民法典》第1077条[1]。", short_context=True)
    answer = GroundedAssistant(retriever, small, store).ask("离婚冷静期是多久")
    request = small.requests[0]
    assert request.messages[0]["content"] == SHORT_INSTRUCTION
    user = request.messages[-1]["content"]
    assert user.count("\n[") <= 3 and "[1] 《中华人民共和国民法典》第一千零七十七条" in user
    # each article is given as its best 款, not whole: never both of 第1079条's 款
    assert not ("夫妻一方要求离婚的" in user and "（一）重婚" in user)
    assert len(answer.sources) <= 3 and answer.citations[0].ok
    big = Scripted("……")
    GroundedAssistant(retriever, big, store).ask("离婚冷静期是多久")
    assert big.requests[0].messages[0]["content"] == SYSTEM_INSTRUCTION


def test_a_small_model_also_reads_retrievals_best_candidate_that_clause_choice_ranked_lower(store, retriever):
    question = "离婚孩子归谁"
    small = Scripted("……", short_context=True)
    bot = GroundedAssistant(retriever, small, store)
    candidates = bot.candidates(question, 15, dict(law=None, include_repealed=False, history=None))
    selection = bot.selector.select(question, candidates, top_k=5)
    top2 = [h.id for h in selection.hits[:2]]
    extra = next(h.id for h in candidates if h.id not in top2)  # retrieval's best beyond clause choice's two
    bot.ask(question)
    given = small.requests[0].hits
    assert [h.id for h in given] == top2 + [extra] and [h.rank for h in given] == [1, 2, 3]
    assert all(f"[{n}] " in small.requests[0].messages[-1]["content"] for n in (1, 2, 3))


def test_tiny_transformer_streams_with_the_short_prompt(store, retriever, tiny_model_dir):
    from assistant.answer.prompt import DRAFT_INSTRUCTION

    tiny = build_assistant("transformers", model=str(tiny_model_dir), store=store, retriever=retriever)
    seen, stream = [], tiny.backend.stream

    def recording(request):  # the real generation, with the request it was given kept for a look
        seen.append(request)
        yield from stream(request)

    tiny.backend.stream = recording
    events = list(tiny.stream("离婚冷静期是多久", max_new_tokens=16))
    # the answer-first prompt for small models; untuned, it rewrites the extractive draft
    assert seen[0].messages[0]["content"] == DRAFT_INSTRUCTION
    assert events[0].kind == "sources" and len(events[0].hits) <= 3 and events[-1].kind == "done"
    answer = events[-1].answer
    assert answer.text == "".join(e.text for e in events if e.kind == "token")
    assert isinstance(answer.fact_flags, list)  # random weights: whatever numbers it writes are checked
    assert tiny.backend.short_context


def test_an_untuned_transformer_gets_the_draft_and_an_adapter_keeps_its_trained_prompt(store, retriever,
                                                                                        tiny_model_dir, tmp_path):
    """Without an adapter the tiny model is an untuned general model: it rewrites the extractive draft. With
    an adapter that recorded the short prompt (``assistant train sft`` writes prompt_style.json), it gets
    exactly that prompt - no draft it was never trained on."""
    import json

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from assistant.answer.prompt import DRAFT_INSTRUCTION, SHORT_INSTRUCTION

    adapter = tmp_path / "adapter"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(adapter)
    (adapter / "prompt_style.json").write_text(json.dumps({"prompt_style": "short"}), encoding="utf-8")

    prompts = {}
    for name, adapter_path in (("untuned", None), ("tuned", adapter)):
        bot = build_assistant("transformers", model=str(tiny_model_dir), adapter=adapter_path, store=store,
                              retriever=retriever)
        seen, stream = [], bot.backend.stream

        def recording(request, seen=seen, stream=stream):
            seen.append(request)
            yield from stream(request)

        bot.backend.stream = recording
        answer = bot.ask("离婚冷静期是多久", max_new_tokens=4)
        assert isinstance(answer.fact_flags, list)  # what it writes is checked
        prompts[name] = seen[0].messages
    assert prompts["untuned"][0]["content"] == DRAFT_INSTRUCTION
    assert "\n\n草稿：" in prompts["untuned"][-1]["content"] and "第一千零七十七条[" in prompts["untuned"][-1]["content"]
    assert prompts["tuned"][0]["content"] == SHORT_INSTRUCTION and "草稿" not in prompts["tuned"][-1]["content"]
    # apart from the draft, the two read the same articles
    assert prompts["untuned"][-1]["content"].split("\n\n草稿：")[0] == prompts["tuned"][-1]["content"].split("\n\n问题：")[0]


def test_an_endpoint_model_gets_the_draft_only_when_asked(store, retriever):
    """A big endpoint model (not short-context, not a local untuned one) keeps the full prompt by default;
    PipelineConfig(draft=True) gives it the draft too, cited by the [n] of its own context."""
    from assistant.answer.pipeline import PipelineConfig
    from assistant.answer.prompt import DRAFT_INSTRUCTION, SYSTEM_INSTRUCTION

    big = Scripted("……")
    GroundedAssistant(retriever, big, store).ask("离婚冷静期是多久")
    assert big.requests[0].messages[0]["content"] == SYSTEM_INSTRUCTION
    assert "草稿" not in big.requests[0].messages[-1]["content"]
    asked = Scripted("……")
    GroundedAssistant(retriever, asked, store, config=PipelineConfig(draft=True)).ask("离婚冷静期是多久")
    request = asked.requests[0]
    assert request.messages[0]["content"] == DRAFT_INSTRUCTION
    marker = next(n for n, h in enumerate(request.hits, 1) if h.article.number == 1077)
    assert f"第一千零七十七条[{marker}]" in request.messages[-1]["content"].split("草稿：")[1]


def test_the_draft_quotes_a_short_article_whole_with_its_deciding_paragraph_first(store, retriever):
    """The extractive answer quotes a short article whole; the draft a model rewrites carries the same text, or a
    fact in the article's other 款 never reaches the model."""
    from assistant.answer.pipeline import PipelineConfig

    asked = Scripted("……")
    GroundedAssistant(retriever, asked, store, config=PipelineConfig(draft=True)).ask(
        "已经上班了，公司没签书面劳动合同，多久内必须签？")
    draft = asked.requests[0].messages[-1]["content"].split("草稿：")[1].split("\n\n问题：")[0]
    [line] = [ln for ln in draft.split("\n") if "《劳动合同法》第十条[" in ln]
    assert "一个月内订立书面劳动合同" in line and "建立劳动关系，应当订立书面劳动合同。" in line, draft
    assert line.index("一个月内订立") < line.index("建立劳动关系，应当"), line  # the deciding 款 first
