"""SFT examples generated from the article store (``assistant data sft --out FILE.jsonl``), as alpaca rows.

Kinds (``kinds``):

* ``recitation``: "《X》第N条的内容是什么？" → the article text;
* ``locate``: an article's text → which law and article it is;
* ``rag``: a question about an article with a numbered context block of retrieved articles - the gold one
  plus distractors - in exactly the app's prompt (``assistant.answer.prompt``: the system instruction goes
  in ``system``, the user message with the context in ``instruction``, so the training source rendered by
  the ChatGLM2 template equals what the app sends); the answer cites the gold article as 《法名》第N条[k];
* ``abstain``: the same kind of question with only unrelated articles in the context; the answer says no
  listed article applies.

Distractors come from the retriever (``retriever.search(question)``, gold removed) when one is given,
otherwise are sampled from the same chapter/law (hard negatives) and, for abstention, from other laws.
The question of a rag/abstain example is made from the article's heading or first clause (no real user
questions exist in the corpus) - see :func:`question_for`.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

from assistant.answer.prompt import SYSTEM_INSTRUCTION, build_messages
from assistant.search.types import Hit

KINDS = ("recitation", "locate", "rag", "abstain")
ABSTAIN_ANSWER = "列出的法条中没有可适用于该问题的规定，无法依据现有法条作答。建议补充案情细节，或咨询专业律师。"


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


def question_for(article, rng: random.Random) -> str:
    """A plain question the article answers: its heading topic or its first clause."""
    first = re.split(r"[，。；：]", article.text.strip(), maxsplit=1)[0][:24]
    topic = _heading_topic(article)
    short = article.law_short or article.law
    choices = [f"{short}关于“{first}”是怎么规定的？"]
    if topic:
        choices.append(f"{short}中关于{topic}有哪些规定？")
    return rng.choice(choices)


def rag_answer(article, marker: int) -> str:
    return f"根据{article.label}[{marker}]的规定：{article.text}"


def _hits(articles) -> list[Hit]:
    return [Hit(a, 1.0 / (i + 1), i + 1, "bm25") for i, a in enumerate(articles)]


def rag_example(article, distractors, rng: random.Random, question: str | None = None) -> dict:
    question = question or question_for(article, rng)
    arts = list(distractors)
    arts.insert(rng.randrange(len(arts) + 1), article)
    messages, used = build_messages(question, _hits(arts))
    marker = next(i for i, h in enumerate(used, 1) if h.article.id == article.id)
    return {"system": messages[0]["content"], "instruction": messages[-1]["content"], "input": "",
            "output": rag_answer(article, marker)}


def abstain_example(article, unrelated, rng: random.Random) -> dict:
    question = question_for(article, rng)
    messages, _ = build_messages(question, _hits(unrelated))
    return {"system": messages[0]["content"], "instruction": messages[-1]["content"], "input": "",
            "output": ABSTAIN_ANSWER}


def generate_sft(store, *, kinds=KINDS, laws: list[str] | None = None, limit: int | None = None,
                 distractors: int = 2, seed: int = 0, retriever=None, max_article_chars: int = 600,
                 progress: bool = False) -> list[dict]:
    """Rows for in-force articles of ``laws`` (default all), at most ``limit`` articles (sampled)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    rng = random.Random(seed)
    pool = [a for law in (laws or store.law_names()) for a in store.articles(law=law, in_force_only=True)
            if a.text.strip() and len(a.text) <= max_article_chars]
    if not pool:
        raise ValueError("no in-force articles to generate from (is the store empty?)")
    chosen = rng.sample(pool, limit) if limit and limit < len(pool) else pool
    by_chapter: dict[tuple, list] = {}
    for a in pool:
        by_chapter.setdefault((a.law, a.chapter), []).append(a)
    rows: list[dict] = []
    it = chosen
    if progress:
        from tqdm import tqdm

        it = tqdm(chosen, desc="generating", unit="article")
    for art in it:
        meta = {"id": art.id}
        if "recitation" in kinds:
            rows.append(dict(recitation(art), kind="recitation", **meta))
        if "locate" in kinds:
            rows.append(dict(locate(art), kind="locate", **meta))
        if "rag" in kinds:
            question = question_for(art, rng)
            if retriever is not None:
                negs = [h.article for h in retriever.search(question, top_k=distractors + 1)
                        if h.article.id != art.id][:distractors]
            else:
                near = [a for a in by_chapter.get((art.law, art.chapter), []) if a.id != art.id]
                negs = rng.sample(near, min(distractors, len(near)))
                if len(negs) < distractors:
                    negs += [a for a in rng.sample(pool, min(len(pool), distractors + 2))
                             if a.id != art.id and a not in negs][: distractors - len(negs)]
            rows.append(dict(rag_example(art, negs, rng, question), kind="rag", **meta))
        if "abstain" in kinds:
            other = [a for a in rng.sample(pool, min(len(pool), 4 * distractors + 4)) if a.law != art.law]
            if other:
                rows.append(dict(abstain_example(art, other[:distractors], rng), kind="abstain", **meta))
    return rows


def write_jsonl(rows: list[dict], path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    tmp.replace(path)  # never a half-written file under the real name
    return path


__all__ = ["KINDS", "ABSTAIN_ANSWER", "SYSTEM_INSTRUCTION", "generate_sft", "write_jsonl", "rag_example",
           "abstain_example", "question_for"]
