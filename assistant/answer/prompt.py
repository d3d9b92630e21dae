"""Prompts: a numbered context block of retrieved articles, an instruction to cite only them, and the
chat format of the model (ChatGLM2's ``[Round N]`` template, or the tokenizer's own chat template).

Pure functions: the same hits and question give the same prompt, which is what SFT data generated for
training (issue 6) must reproduce exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from assistant.search.types import Hit

SYSTEM_INSTRUCTION = (
    "你是严谨的中国法律助手。请只依据下面列出的法条回答问题。引用法条时只能引用这些法条，"
    "格式为《法名》第N条，并在引用后标注其编号，如[1]。如果列出的法条都不适用，请直接说明现有法条中"
    "没有可适用的规定，不要编造法条。"
)
#: for small local models (1-2B): answer first in plain words with the key fact, then the basis
SHORT_INSTRUCTION = (
    "你是中国法律助手，为普通人解答法律咨询，只能依据下面列出的法条回答。"
    "开头用一两句话直接回答问题，说出法条规定的期限、金额、倍数、条件或责任人；"
    "接着说明依据，写成“根据《法名》第N条[编号]的规定，……”，用条文原话或通俗的话讲清楚适用条件和例外，"
    "几条法条都相关就逐条说明，方括号里是下面法条的编号，只能引用列出的法条，不要编造法条或数字；"
    "最后给出具体可行的建议，例如协商、保留证据、投诉、申请仲裁或者向人民法院起诉。"
    "回答要完整，写二三百字，不要只写一句。"
    "如果列出的法条与问题无关，就如实说明法条库中没有找到相关规定。"
)
#: for untuned small models given a draft (the extractive answer laid out as the answer: what the deciding 款
#: answers, then each answering 款 after its citation): rewrite it in plain words, keeping every citation
DRAFT_INSTRUCTION = (
    "你是中国法律助手，为普通人解答法律咨询，只能依据下面列出的法条回答。"
    "“草稿”是从这些法条摘出的答案和依据，请把它改写成通俗易懂的完整回答："
    "开头用一两句话直接回答问题，说出期限、金额、倍数、条件或责任人；"
    "接着逐条写“根据《法名》第N条[编号]的规定，……”，草稿里的每一条依据都要保留，法名、条号和编号照抄，"
    "用通俗的话讲清楚适用条件和例外；"
    "最后给出具体可行的建议，例如协商、保留证据、投诉、申请仲裁或者向人民法院起诉。"
    "数字只能照抄草稿和法条，只能引用列出的法条，不要编造法条或数字。"
    "如果草稿和法条都与问题无关，就如实说明法条库中没有找到相关规定。"
)
NO_CONTEXT = "（没有检索到相关法条。）"
TRUNCATED_MARK = "……（条文过长，以下省略）"
OMITTED_NOTE = "（另有{n}条检索结果因篇幅所限未列出。）"


@dataclass
class PromptConfig:
    #: tokens the context block may use (whole articles, most relevant first)
    context_budget: int = 2000
    #: auto: the tokenizer's chat template when it has one, else chatglm2; or chatglm2 / chat_template
    template: str = "auto"
    system: str = SYSTEM_INSTRUCTION


def short_context_texts(clauses, max_chars: int = 300) -> tuple[list[Hit], dict[str, str]]:
    """For small models: the articles of ``clauses`` (``select.Clause``, in order), each reduced to that
    款 (an article the question names stays whole)."""
    hits, texts = [], {}
    for clause in clauses:
        hits.append(clause.hit)
        if clause.hit.via == "citation":
            continue
        text = clause.text
        texts[clause.hit.id] = text if len(text) <= max_chars else text[:max_chars] + TRUNCATED_MARK
    return hits, texts


def format_article(marker: int, hit: Hit, text: str | None = None) -> str:
    """``[1] 《中华人民共和国刑法》第一百三十三条之一（现行有效）`` then the article text."""
    a = hit.article
    return f"[{marker}] {a.label}（{a.status}）\n{a.text if text is None else text}"


def pack_context(hits: Sequence[Hit], budget: int,
                 count_tokens: Callable[[str], int] = len,
                 texts: dict[str, str] | None = None) -> tuple[str, list[Hit]]:
    """The context block and the hits it holds. Whole articles in rank order while they fit; the first
    article is truncated (and marked) when even it alone is over budget; what did not fit is counted.
    ``texts`` (article id -> text) replaces an article's text with an excerpt (its best 款)."""
    blocks: list[str] = []
    used_hits: list[Hit] = []
    used = 0
    texts = texts or {}
    for hit in hits:
        block = format_article(len(blocks) + 1, hit, texts.get(hit.id))
        cost = count_tokens(block) + 1
        if used + cost <= budget:
            blocks.append(block)
            used_hits.append(hit)
            used += cost
            continue
        if not blocks:  # one long article: keep its head rather than nothing
            text = hit.article.text
            lo, hi = 0, len(text)
            while lo < hi:  # longest prefix that fits, by bisection on characters
                mid = (lo + hi + 1) // 2
                if count_tokens(format_article(1, hit, text[:mid] + TRUNCATED_MARK)) + 1 <= budget:
                    lo = mid
                else:
                    hi = mid - 1
            blocks.append(format_article(1, hit, text[:lo] + TRUNCATED_MARK))
            used_hits.append(hit)
            used = budget
        break
    if not blocks:
        return NO_CONTEXT, []
    omitted = len(hits) - len(used_hits)
    if omitted:
        blocks.append(OMITTED_NOTE.format(n=omitted))
    return "\n\n".join(blocks), used_hits


def user_message(question: str, context: str, draft: str | None = None) -> str:
    """``draft``: an answer to rewrite (see ``DRAFT_INSTRUCTION``), between the articles and the question."""
    if draft:
        return f"参考法条：\n{context}\n\n草稿：\n{draft}\n\n问题：{question}"
    return f"参考法条：\n{context}\n\n问题：{question}"


def normalize_history(history: Sequence[Any] | None) -> list[tuple[str, str]]:
    """(user, assistant) pairs from any history form (see ``assistant.data.history``)."""
    from assistant.data.history import normalize_history as _normalize

    return _normalize(history)


def build_messages(question: str, hits: Sequence[Hit], history: Sequence[Any] | None = None,
                   config: PromptConfig | None = None,
                   count_tokens: Callable[[str], int] = len,
                   texts: dict[str, str] | None = None, draft: str | None = None) -> tuple[list[dict], list[Hit]]:
    """OpenAI-style messages (system, earlier turns, the user turn with the context block) and the hits
    that made it into the context (their order gives the [n] markers). ``texts``: see ``pack_context``;
    ``draft``: see ``user_message``."""
    config = config or PromptConfig()
    context, used = pack_context(hits, config.context_budget, count_tokens, texts)
    messages = [{"role": "system", "content": config.system}]
    for q, a in normalize_history(history):
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": user_message(question, context, draft)})
    return messages, used


def render_chatglm2(messages: Sequence[dict]) -> str:
    """ChatGLM2-6B's prompt: ``[Round N]\\n\\n问：…\\n\\n答：…\\n\\n`` per turn, numbered from 1. It has no
    system role, so the system text opens the current question."""
    system = "\n".join(m["content"] for m in messages if m["role"] == "system")
    turns = [m for m in messages if m["role"] != "system"]
    pairs: list[tuple[str, str | None]] = []
    for m in turns:
        if m["role"] == "user":
            pairs.append((m["content"], None))
        elif pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], m["content"])
    if not pairs or pairs[-1][1] is not None:
        raise ValueError("the last message must be the user's question")
    out = []
    for i, (q, a) in enumerate(pairs, 1):
        if a is None:
            q = f"{system}\n\n{q}" if system else q
            out.append(f"[Round {i}]\n\n问：{q}\n\n答：")
        else:
            out.append(f"[Round {i}]\n\n问：{q}\n\n答：{a}\n\n")
    return "".join(out)


def render_prompt(messages: Sequence[dict], tokenizer=None, template: str = "auto") -> str:
    """The prompt string for a causal LM: the tokenizer's chat template when it has one (and template is
    auto or chat_template), else ChatGLM2's."""
    has_template = tokenizer is not None and bool(getattr(tokenizer, "chat_template", None))
    if template == "chatglm2" or (template == "auto" and not has_template):
        return render_chatglm2(messages)
    if not has_template:
        raise ValueError("template 'chat_template' asked for, but the tokenizer has no chat_template")
    try:
        return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    except Exception:  # some templates (older Llama / Gemma) reject a system role: fold it into the question
        system = "\n".join(m["content"] for m in messages if m["role"] == "system")
        rest = [dict(m) for m in messages if m["role"] != "system"]
        rest[-1]["content"] = f"{system}\n\n{rest[-1]['content']}"
        return tokenizer.apply_chat_template(rest, tokenize=False, add_generation_prompt=True)
