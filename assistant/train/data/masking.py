"""Prompt masking, as ChatGLM2's ``ptuning/main.py`` (``preprocess_function_train``) does it:

    a_ids  = encode(source, add_special_tokens=True)[:max_source_length]
    b_ids  = encode(target, add_special_tokens=False)[:max_target_length]
    input_ids = a_ids + b_ids + [eos]
    labels    = [-100] * len(a_ids) + b_ids + [eos]

``source`` is the template applied to the question (with history and system), ``target`` the answer.
Batches are padded by ``DataCollatorForSeq2Seq`` with ``label_pad_token_id=-100`` (dynamic padding,
where the recipe pads every row to the maximum length; the loss is the same).

Multi-turn conversations learned in one sequence: segment k of the template (the text between answer
k-1 and answer k, see ``templates.conversation_segments``) is masked, answer k + eos is learned; each
segment and each answer has its own budget, and turns stop being added once the whole would pass
``max_source_length + max_target_length + 1``.

``source_truncation='right'`` keeps the head of a long prompt (the recipe's behaviour); ``'left'`` keeps
its end - the question and the 答： cue - which suits retrieval-augmented prompts with long contexts.
"""
from __future__ import annotations

from dataclasses import dataclass

from assistant.train.data.formats import SFTExample
from assistant.train.templates import conversation_segments, messages_for, render

IGNORE_INDEX = -100


@dataclass
class MaskingConfig:
    template: str = "chatglm2"
    max_source_length: int = 512
    max_target_length: int = 256
    source_truncation: str = "right"  # right (recipe) | left


def _truncate(ids: list[int], limit: int, side: str) -> list[int]:
    if limit <= 0 or len(ids) <= limit:
        return ids
    return ids[-limit:] if side == "left" else ids[:limit]


def encode_pair(tokenizer, source: str, target: str, cfg: MaskingConfig, *, first: bool = True):
    a_ids = tokenizer.encode(source, add_special_tokens=first)
    a_ids = _truncate(a_ids, cfg.max_source_length, cfg.source_truncation)
    b_ids = tokenizer.encode(target, add_special_tokens=False)[: cfg.max_target_length]
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token; SFT targets end with it")
    return a_ids + b_ids + [eos], [IGNORE_INDEX] * len(a_ids) + b_ids + [eos]


def encode_example(example: SFTExample, tokenizer, cfg: MaskingConfig) -> dict:
    """``{"input_ids", "labels", "attention_mask"}`` for one example (lists of ints)."""
    if example.learn_all_turns and len(example.turns) > 1:
        budget = cfg.max_source_length + cfg.max_target_length + 1
        input_ids: list[int] = []
        labels: list[int] = []
        segments = conversation_segments(example.turns, example.system, tokenizer, cfg.template)
        for k, (segment, answer) in enumerate(segments):
            ids, lab = encode_pair(tokenizer, segment, answer, cfg, first=(k == 0))
            if k and len(input_ids) + len(ids) > budget:
                break
            input_ids += ids
            labels += lab
    else:
        *history, (query, answer) = example.turns
        source = render(messages_for(history, query, example.system), tokenizer, cfg.template)
        input_ids, labels = encode_pair(tokenizer, source, answer, cfg)
    return {"input_ids": input_ids, "labels": labels, "attention_mask": [1] * len(input_ids)}


def make_collator(tokenizer, model=None, pad_to_multiple_of: int | None = None):
    from transformers import DataCollatorForSeq2Seq

    if tokenizer.pad_token_id is None:  # many causal LMs ship without one
        tokenizer.pad_token = tokenizer.eos_token
    # the recipe pads on the right; generation tokenizers are often configured with left padding
    tokenizer.padding_side = "right"
    return DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=IGNORE_INDEX,
                                  pad_to_multiple_of=pad_to_multiple_of, padding=True)


def supervised_token_share(rows: list[dict]) -> float:
    """Share of tokens that carry a loss (not -100)."""
    total = sum(len(r["labels"]) for r in rows)
    return sum(1 for r in rows for x in r["labels"] if x != IGNORE_INDEX) / total if total else 0.0
