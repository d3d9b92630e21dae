"""SFT examples generated from the article store (``assistant data sft --out FILE.jsonl``), as alpaca rows.

Kinds (``kinds``):

* ``recitation``: "《X》第N条的内容是什么？" → the article text;
* ``locate``: an article's text → which law and article it is;
* ``rag``: a question about an article with a numbered context block of retrieved articles - the gold one
  plus distractors - in exactly the app's prompt (``assistant.answer.prompt``: the system instruction goes
  in ``system``, the user message with the context in ``instruction``, so the training source rendered by
  the ChatGLM2 template equals what the app sends); the answer states first the article's sentence that
  answers the question (its own words, nothing invented), then cites only the gold article as 《法名》第N条[k];
* ``abstain``: the same kind of question with only unrelated articles in the context; the answer says no
  listed article applies.

Distractors come from the retriever (``retriever.search(question)``, gold removed) when one is given,
otherwise are sampled from the same chapter/law (hard negatives) and, for abstention, from other laws.
With a retriever the context is what the app would show for the question (its ranking kept; the gold
article replaces the last hit when the retriever missed it). The question of a rag/abstain example is made
from one of the article's sentences or its heading (no real user questions: evaluation questions stay
unseen) - see :func:`question_for`; ``exclude_ids`` keeps chosen articles (an eval set's gold) out.
"""
from __future__ import annotations

import random
import re

from assistant.answer.prompt import SYSTEM_INSTRUCTION, build_messages
from assistant.search.types import Hit

KINDS = ("recitation", "locate", "rag", "abstain")
ABSTAIN_ANSWER = "提供的法条中没有适用于这个问题的规定，无法据此回答。建议补充案情细节，或咨询专业律师。"
_SENTENCE = re.compile(r"[^。；！？\n]+[。；！？]?")
_CLAUSE_END = re.compile(r"[，。；：！？]")
_LIST_ITEM = re.compile(r"^[（(][一二三四五六七八九十\d]+[）)]")


def recitation(article) -> dict:
    return {"instruction": f"{article.label}的内容是什么？", "input": "", "output": article.text}


def locate(article) -> dict:
    return {"instruction": "下面这段条文出自哪部法律的第几条？", "input": article.text,
            "output": f"这段条文出自{article.label}。"}


def _heading_topic(article) -> str | None:
    for h in (article.section, article.chapter):
        if h:
            topic = re.sub(r"^第[一二三四五六七八九十百零〇\d]+[编章节]\s*", "", h).strip()
            if topic and topic not in ("总则", "附则"):
                return topic
    return None


def sentences(text: str, with_items: bool = True) -> list[str]:
    """The article's sentences (split after 。；！？ and at line breaks), each with its end mark; without
    the enumerated items （一）…（二）… unless ``with_items`` (an item alone does not answer anything)."""
    out = [m.group(0).strip() for m in _SENTENCE.finditer(text) if len(m.group(0).strip()) >= 2]
    return out if with_items else [x for x in out if not _LIST_ITEM.match(x)]


def _subject(sentence: str) -> str:
    """The opening clause of a sentence, without a leading 第N款-style list mark: what a question is about."""
    s = re.sub(r"^[（(]?[一二三四五六七八九十\d]+[）)、.]\s*", "", sentence.strip())
    return _CLAUSE_END.split(s, maxsplit=1)[0][:30]


#: openings that refer to something outside the sentence (前款, 下列情形) or only qualify it (但是): no question
_DEPENDENT = ("但是", "但", "下列", "有下列", "前款", "前两款", "前三款", "依照前", "依照本", "本法", "本条", "除")


def _askable(sentence: str) -> bool:
    subject = _subject(sentence)
    return len(sentence) >= 8 and len(subject) >= 6 and not subject.startswith(_DEPENDENT)


def _consequence(sentence: str) -> str | None:
    """The last clause of a "condition, consequence" sentence (当事人协商一致，可以解除合同 -> 可以解除合同)."""
    clauses = [c for c in _CLAUSE_END.split(sentence.strip()) if c]
    if len(clauses) < 2 or not 4 <= len(clauses[-1]) <= 30:
        return None
    return clauses[-1]


def question_for(article, rng: random.Random, sentence: str | None = None) -> str:
    """A plain question the article answers, made from one of its sentences or its heading topic. No real
    user questions are used: the dev sets stay unseen. Where the sentence has the form "condition,
    consequence", the question asks for the condition (什么情况下可以解除合同？), so that the answer is not
    a copy of the question: the model has to take it from the article in the context."""
    short = article.law_short or article.law
    subject = _subject(sentence or article.text)
    topic = _heading_topic(article)
    consequence = _consequence(sentence) if sentence else None
    if consequence:
        return rng.choice([f"什么情况下{consequence}？", f"{short}规定，在什么情况下{consequence}？",
                           f"请问什么情形{consequence}？"])
    choices = [f"{short}关于“{subject}”是怎么规定的？", f"{subject}，法律上是怎么规定的？"]
    if topic:
        choices.append(f"{short}中关于{topic}有哪些规定？")
    return rng.choice(choices)


def answer_sentence(article, question: str) -> str:
    """The sentence of the article that shares the most with the question (the first one on a tie)."""
    from assistant.answer.check import bigrams

    sents = sentences(article.text, with_items=False) or sentences(article.text) or [article.text.strip()]
    q = bigrams(question)
    return max(sents, key=lambda s: (len(q & bigrams(s)), -sents.index(s)))


def rag_answer(article, marker: int, question: str | None = None) -> str:
    """Answer first, in the article's own words, then the one citation that supports it:
    ``<the article's sentence that answers the question>（依据：《法名》第N条[k]）。`` - the citation inside the
    sentence it supports, where the citation checker scores that support. Short on purpose: a small model
    learns the format in a few dozen examples, and the app shows the whole article anyway."""
    sentence = answer_sentence(article, question or "")
    return f"{sentence.rstrip('。；：')}（依据：{article.label}[{marker}]）。"


def _hits(articles) -> list[Hit]:
    return [Hit(a, 1.0 / (i + 1), i + 1, "bm25") for i, a in enumerate(articles)]


def rag_example(article, distractors, rng: random.Random, question: str | None = None, *,
                keep_order: bool = False, prompt_config=None, count_tokens=len) -> dict | None:
    """A question, the app's prompt with the gold article among ``distractors`` (at a random place, or where
    it already is when ``keep_order``: the retriever's ranking), and the answer citing only the gold [k].
    None when the gold article does not fit the context budget."""
    question = question or question_for(article, rng)
    arts = [a for a in distractors if a.id != article.id]
    if keep_order and any(a.id == article.id for a in distractors):
        arts = list(distractors)
    else:
        arts.insert(rng.randrange(len(arts) + 1), article)
    messages, used = build_messages(question, _hits(arts), config=prompt_config, count_tokens=count_tokens)
    marker = next((i for i, h in enumerate(used, 1) if h.article.id == article.id), None)
    if marker is None:
        return None
    return {"system": messages[0]["content"], "instruction": messages[-1]["content"], "input": "",
            "output": rag_answer(article, marker, question)}


def abstain_example(article, unrelated, rng: random.Random, *, prompt_config=None, count_tokens=len,
                    question: str | None = None) -> dict:
    question = question or question_for(article, rng)
    messages, _ = build_messages(question, _hits(unrelated), config=prompt_config, count_tokens=count_tokens)
    return {"system": messages[0]["content"], "instruction": messages[-1]["content"], "input": "",
            "output": ABSTAIN_ANSWER}


def generate_sft(store, *, kinds=KINDS, laws: list[str] | None = None, limit: int | None = None,
                 distractors: int = 2, seed: int = 0, retriever=None, max_article_chars: int = 600,
                 exclude_ids: set[str] | None = None, prompt_config=None, count_tokens=len,
                 progress: bool = False) -> list[dict]:
    """Rows for in-force articles of ``laws`` (default all), at most ``limit`` articles (sampled).

    ``exclude_ids``: articles never used as a gold article (e.g. the gold articles of an evaluation set,
    so that it measures what the model learnt, not what it saw). ``prompt_config`` / ``count_tokens``:
    the app's context budget and token counter, so that the training prompt packs the context exactly as
    the app will (default: the app's defaults, counting characters)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    rng = random.Random(seed)
    pool = [a for law in (laws or store.law_names()) for a in store.articles(law=law, in_force_only=True)
            if a.text.strip() and len(a.text) <= max_article_chars]
    if not pool:
        raise ValueError("no in-force articles to generate from (is the store empty?)")
    gold_pool = [a for a in pool if not exclude_ids or a.id not in exclude_ids]
    chosen = rng.sample(gold_pool, limit) if limit and limit < len(gold_pool) else gold_pool
    by_chapter: dict[tuple, list] = {}
    for a in pool:
        by_chapter.setdefault((a.law, a.chapter), []).append(a)
    rows: list[dict] = []
    it = chosen
    if progress:
        from tqdm import tqdm

        it = tqdm(chosen, desc="generating", unit="article")
    budget = {"prompt_config": prompt_config, "count_tokens": count_tokens}
    for art in it:
        meta = {"id": art.id}
        if "recitation" in kinds:
            rows.append(dict(recitation(art), kind="recitation", **meta))
        if "locate" in kinds:
            rows.append(dict(locate(art), kind="locate", **meta))
        sents = [x for x in sentences(art.text, with_items=False) if _askable(x)]
        if "rag" in kinds and sents:  # an article with nothing to ask about (本法自…起施行) gives no rag row
            question = question_for(art, rng, rng.choice(sents))
            if retriever is not None:  # what the app would show for this question, gold kept where it ranks
                ranked = [h.article for h in retriever.search(question, top_k=distractors + 1)]
                if art.id not in {a.id for a in ranked}:
                    ranked = ranked[:distractors]
                example = rag_example(art, ranked, rng, question, keep_order=True, **budget)
            else:
                near = [a for a in by_chapter.get((art.law, art.chapter), []) if a.id != art.id]
                negs = rng.sample(near, min(distractors, len(near)))
                if len(negs) < distractors:
                    negs += [a for a in rng.sample(pool, min(len(pool), distractors + 2))
                             if a.id != art.id and a not in negs][: distractors - len(negs)]
                example = rag_example(art, negs, rng, question, **budget)
            if example is not None:
                rows.append(dict(example, kind="rag", **meta))
        if "abstain" in kinds:
            other = [a for a in rng.sample(pool, min(len(pool), 4 * distractors + 4)) if a.law != art.law]
            if other:
                rows.append(dict(abstain_example(art, other[:distractors], rng, **budget), kind="abstain", **meta))
    return rows


def gold_article_ids(store, eval_files) -> set[str]:
    """Ids of the store's articles that are gold in these evaluation files (``law`` + ``articles``, and
    every ``citations`` entry where present), for ``generate_sft(exclude_ids=...)``."""
    from assistant.data.datasets import read_rows
    from assistant.data.gold import key_from_article_id

    keys: set = set()
    for file in eval_files:
        for row in read_rows(file):
            keys |= row.all_gold
    laws = {k[0] for k in keys}
    out: set[str] = set()
    for law in store.law_names():
        arts = list(store.articles(law=law))
        if arts and key_from_article_id(arts[0].id)[0] in laws:
            out |= {a.id for a in arts if key_from_article_id(a.id) in keys}
    return out


__all__ = ["KINDS", "ABSTAIN_ANSWER", "SYSTEM_INSTRUCTION", "generate_sft", "rag_example",
           "abstain_example", "question_for", "rag_answer", "answer_sentence", "sentences", "gold_article_ids"]
