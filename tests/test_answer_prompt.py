"""Prompt builder against hand-built expected strings."""
from __future__ import annotations

import pytest

from assistant.answer.prompt import (NO_CONTEXT, SYSTEM_INSTRUCTION, PromptConfig, build_messages, normalize_history,
                                     pack_context, render_chatglm2, render_prompt)
from assistant.corpus import Article
from assistant.search.types import Hit

A1 = Article(law="中华人民共和国刑法", number=133, suffix="之一", text="在道路上驾驶机动车，醉酒驾驶的，处拘役。")
A2 = Article(law="中华人民共和国民法典", number=1079, text="夫妻一方要求离婚的，可以提起离婚诉讼。", status="已被修改")
HITS = [Hit(A1, 1.0, 1, "bm25"), Hit(A2, 0.5, 2, "dense")]

BLOCK1 = "[1] 《中华人民共和国刑法》第一百三十三条之一（现行有效）\n在道路上驾驶机动车，醉酒驾驶的，处拘役。"
BLOCK2 = "[2] 《中华人民共和国民法典》第一千零七十九条（已被修改）\n夫妻一方要求离婚的，可以提起离婚诉讼。"


def test_context_block_lists_numbered_articles_with_status():
    block, used = pack_context(HITS, budget=1000)
    assert block == BLOCK1 + "\n\n" + BLOCK2
    assert used == HITS


def test_packing_keeps_whole_articles_and_counts_the_rest():
    block, used = pack_context(HITS, budget=len(BLOCK1) + 1)
    assert used == HITS[:1]
    assert block == BLOCK1 + "\n\n（另有1条检索结果因篇幅所限未列出。）"


def test_packing_truncates_a_single_long_article_and_marks_it():
    head = "[1] 《中华人民共和国刑法》第一百三十三条之一（现行有效）\n"
    budget = len(head) + len("……（条文过长，以下省略）") + 5  # room for four characters of text (+1 separator)
    block, used = pack_context(HITS, budget=budget)
    assert used == HITS[:1]
    assert block == head + "在道路上……（条文过长，以下省略）\n\n（另有1条检索结果因篇幅所限未列出。）"


def test_no_retrieved_articles_give_the_no_context_block():
    assert pack_context([], 100) == (NO_CONTEXT, [])


def test_messages_and_chatglm2_template_multi_turn():
    history = [("醉驾怎么处罚", "处拘役，并处罚金。")]
    messages, used = build_messages("那如果撞了人呢？", HITS, history, PromptConfig(context_budget=1000))
    user = f"参考法条：\n{BLOCK1}\n\n{BLOCK2}\n\n问题：那如果撞了人呢？"
    assert messages == [{"role": "system", "content": SYSTEM_INSTRUCTION},
                        {"role": "user", "content": "醉驾怎么处罚"},
                        {"role": "assistant", "content": "处拘役，并处罚金。"},
                        {"role": "user", "content": user}]
    expected = ("[Round 1]\n\n问：醉驾怎么处罚\n\n答：处拘役，并处罚金。\n\n"
                f"[Round 2]\n\n问：{SYSTEM_INSTRUCTION}\n\n{user}\n\n答：")
    assert render_chatglm2(messages) == expected
    assert render_prompt(messages, tokenizer=None) == expected
    assert "《法名》第N条" in SYSTEM_INSTRUCTION and "没有可适用" in SYSTEM_INSTRUCTION


def test_a_draft_sits_between_the_articles_and_the_question():
    draft = "醉驾处拘役：依据《刑法》第一百三十三条之一[1]，在道路上驾驶机动车，醉酒驾驶的，处拘役。"
    messages, used = build_messages("醉驾怎么处罚", HITS, config=PromptConfig(context_budget=1000), draft=draft)
    assert used == HITS
    assert messages[-1]["content"] == f"参考法条：\n{BLOCK1}\n\n{BLOCK2}\n\n草稿：\n{draft}\n\n问题：醉驾怎么处罚"
    plain, _ = build_messages("醉驾怎么处罚", HITS, config=PromptConfig(context_budget=1000))
    assert "草稿" not in plain[-1]["content"]  # no draft: the prompt SFT data was generated with, unchanged


def test_single_turn_chatglm2():
    messages = [{"role": "user", "content": "你好"}]
    assert render_chatglm2(messages) == "[Round 1]\n\n问：你好\n\n答："
    with pytest.raises(ValueError):
        render_chatglm2([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])


def test_history_from_openai_messages():
    msgs = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]
    assert normalize_history(msgs) == [("q1", "a1"), ("q2", "")]


class TemplateTokenizer:
    """A tokenizer with a Jinja chat template, rendered by transformers' own template engine."""

    chat_template = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
                     "{% if add_generation_prompt %}<|assistant|>{% endif %}")

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        from transformers.utils.chat_template_utils import render_jinja_template

        rendered, _ = render_jinja_template(conversations=[messages], chat_template=self.chat_template,
                                            add_generation_prompt=add_generation_prompt)
        return rendered[0]


def test_tokenizer_chat_template_is_used_when_present():
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]
    assert render_prompt(messages, TemplateTokenizer()) == "<|system|>S<|user|>Q<|assistant|>"
    assert render_prompt(messages, TemplateTokenizer(), template="chatglm2") == "[Round 1]\n\n问：S\n\nQ\n\n答："
    with pytest.raises(ValueError):
        render_prompt(messages, None, template="chat_template")
