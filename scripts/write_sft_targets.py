"""Write the target answers of the question-set SFT data, in batches, keyed by question id.

This is the writing step of assistant/train/data/legal_sft (see its provenance note): for each question of
the question set's learn part, and the app prompt recorded for it (``assistant data sft --from-questions
--prompts-out FILE``), the target is composed from the article text the prompt shows - never by a model:

* the gold article is in the context and shows the deciding 款 (the row's ``clause``; its ``key_fact`` must
  be visible too): the answer first (the clause of the 款 that holds the key fact, with its consequence),
  then 根据《法名》第N条(第K款)[k]的规定，“<the 款 as shown>”, then the other cited articles the context
  holds, then what the person can do (a line per field of law, written for this file, without numbers);
* no cited article is in the context: the listed articles do not decide it (no citation, no number), and
  what the person can do next;
* the gold article is listed but the deciding 款 is not shown, or only a secondary cited article is: no
  target (neither answer nor abstention would be right).

Rows are appended in batches of --batch to --out (a crash keeps what was written; rerun with --resume).
The builder (``assistant data sft --from-questions``) joins these targets with the prompts, runs the
citation and number checks on every one, deduplicates and balances abstentions.

    python scripts/write_sft_targets.py --questions lq.jsonl --prompts prompts.jsonl \\
        --out assistant/train/data/legal_sft_targets.jsonl
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.answer.check import bigrams  # noqa: E402
from assistant.answer.prompt import TRUNCATED_MARK  # noqa: E402
from assistant.corpus.numerals import int_to_cn  # noqa: E402

#: what the person can do, by field of law (no numerals: the number check would have nothing to match)
ADVICE = {
    "labour": "可以先和单位协商，并保留劳动合同、工资流水、考勤记录和聊天记录等证据；协商不成的，可以向劳动保障监察部门投诉，"
              "或者向劳动争议仲裁委员会申请仲裁，对裁决不服再向人民法院起诉。",
    "consumer": "建议保存好购物凭证、订单截图、聊天记录和商品实物，先找商家或平台协商；协商不成的，可以向消费者协会投诉、"
                "向市场监督管理部门举报，也可以向人民法院起诉。",
    "criminal": "如果你是受害人，可以及时向公安机关报案并提供证据；如果你或家人涉嫌犯罪，应当尽快委托律师，依法行使辩护等"
                "诉讼权利。",
    "traffic": "遇到交通事故要及时报警、保护现场、留存照片和视频；赔偿问题可以和对方协商，也可以请交警部门调解，或者直接向"
               "人民法院起诉。",
    "police": "可以向公安机关报警或者反映情况，注意保留证据；对处罚决定不服的，可以依法申请行政复议或者提起行政诉讼。",
    "family_violence": "遇到家庭暴力可以报警，也可以向妇联、居委会或村委会求助，必要时向人民法院申请人身安全保护令。",
    "procedure": "打官司前要整理好证据，想清楚自己的请求，注意各项期限；不清楚程序的，可以到法院的诉讼服务中心咨询，"
                 "也可以申请法律援助或者委托律师。",
    "administrative": "对行政机关的决定不服的，可以依法申请行政复议或者提起行政诉讼，注意不要错过申请期限，并保存好相关文书。",
    "business": "建议保存好合同、章程、账目和往来记录等材料，先和对方协商；协商不成的，可以按照约定申请仲裁或者向人民法院"
                "起诉，必要时请律师帮忙。",
    "marriage": "可以先和家人协商；协商不成的，可以请人民调解委员会调解，或者向人民法院起诉；遇到家庭暴力可以报警，并申请"
                "人身安全保护令。",
    "inheritance": "建议先和其他继承人协商，整理好遗嘱、亲属关系证明和遗产材料；协商不成的，可以申请调解或者向人民法院起诉。",
    "contract": "建议保存好合同、转账记录和聊天记录，先和对方协商；协商不成的，可以按照合同约定申请仲裁，或者向人民法院起诉。",
    "property": "建议保存好不动产权证书、合同、照片等证据，先和对方协商，也可以请人民调解委员会或者有关部门调解；协商不成的，"
                "可以向人民法院起诉。",
    "tort": "建议保留受伤或者损失的证据，比如照片、病历、票据和证人，先和对方协商赔偿；协商不成的，可以申请调解或者向人民"
            "法院起诉。",
    "personality": "可以要求对方停止侵害、删除信息、赔礼道歉，并保存好证据；对方拒绝的，可以向人民法院起诉。",
    "general": "建议保存好相关材料和证据，向有关主管部门咨询或者反映情况；情况复杂的，可以申请法律援助或者咨询专业律师。",
}
_FIELDS = [
    ("labour", ("劳动合同法", "劳动法", "劳动争议调解仲裁法", "社会保险法", "农民工工资", "就业促进法", "职业病防治法",
                "工伤保险", "安全生产法", "工会法")),
    ("consumer", ("消费者权益保护法", "产品质量法", "食品安全法", "电子商务法", "广告法", "价格法", "旅游法")),
    ("criminal", ("刑法", "刑事诉讼法")),
    ("traffic", ("道路交通安全法",)),
    ("family_violence", ("反家庭暴力法",)),
    ("police", ("治安管理处罚法",)),
    ("procedure", ("民事诉讼法", "仲裁法", "人民调解法", "法律援助法")),
    ("administrative", ("行政诉讼法", "行政复议法", "行政处罚法", "行政强制法", "行政许可法", "国家赔偿法",
                        "税收征收管理法", "公务员法")),
    ("business", ("公司法", "合伙企业法", "企业破产法", "证券法", "票据法", "保险法", "商标法", "专利法", "著作权法",
                  "反不正当竞争法", "合同法")),
]
_CIVIL_PARTS = [("婚姻家庭", "marriage"), ("继承", "inheritance"), ("合同", "contract"), ("物权", "property"),
                ("侵权责任", "tort"), ("人格权", "personality")]

ABSTAIN_OPENINGS = (
    "上面列出的法条没有直接规定这种情况，根据它们无法判断。列出的条文讲的是其他事项，不能套用到你的问题上。",
    "根据列出的这几条法条，无法回答这个问题：它们和你问的情况不对应，没有找到可以直接适用的规定。",
    "列出的法条与这个问题不相关，法条库中没有找到能直接回答它的规定，不能据此下结论。",
)
ABSTAIN_NEXT = "建议补充具体情况，比如发生了什么、涉及哪些人、手里有什么证据，再重新提问，或者咨询专业律师。"
LEAD_OPENINGS = ("", "简单地说，", "按照规定，")
_SENT_END = re.compile(r"(?<=[。；！？])")
_ITEM = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")


def field_of_law(article) -> str:
    short = article.law_short or article.law
    if short == "民法典" or article.law.endswith("民法典"):
        for word, name in _CIVIL_PARTS:
            if word in (article.part or ""):
                return name
        return "general"
    for name, words in _FIELDS:
        if any(short == w or short.endswith(w) or w in article.law for w in words):
            return name
    return "general"


def _pick(options, key: str):
    """A fixed choice per question (the same file every run), spread over the options."""
    return options[int(hashlib.sha1(key.encode()).hexdigest(), 16) % len(options)]


def deciding_text(article, clause: int | None) -> tuple[str | None, int | None]:
    """The deciding 款 (the question set numbers 款 by text line; an item line or a line that introduces
    items stands for its paragraph) and its paragraph number."""
    if clause is None:
        return None, None
    lines = article.text.split("\n")
    if not 1 <= clause <= len(lines):
        return None, None
    line = lines[clause - 1].strip()
    for i, para in enumerate(article.paragraphs, 1):
        if line in para.split("\n"):
            return (line if _ITEM.match(line) else para), i
    return line, None


#: a clause that starts with one of these continues the one before it: a lead never starts there
_CONTINUES = ("并", "或者", "或", "但", "且", "以及", "也", "还", "和", "及", "同时", "其中", "由")
LEAD_MAX = 120


def lead_sentence(quote: str, key_fact: str | None, query: str) -> str:
    """The answer's opening, in the article's words: the sentence of the 款 that holds the key fact (without
    one: the sentence that shares most with the question). A long sentence is cut to a contiguous run of its
    clauses around the key fact (never starting on a clause that continues another: 并…, 或者…, 但…), so
    that no clause is dropped from the middle - which could change what the law says."""
    sents = [s.strip() for s in _SENT_END.split(quote.replace("……", "。")) if len(s.strip()) > 3]
    if not sents:
        return quote.rstrip("。；")
    q = bigrams(query)
    if key_fact and any(key_fact in s for s in sents):
        s = next(s for s in sents if key_fact in s)
    else:
        s = max(sents, key=lambda x: (len(q & bigrams(x)), -sents.index(x)))
    s = _ITEM.sub("", s).rstrip("。；！？：")
    if len(s) <= LEAD_MAX:
        return s
    segs = [x for x in s.split("，") if x]
    i = next((j for j, x in enumerate(segs) if key_fact and key_fact in x), None)
    if i is None:
        i = max(range(len(segs)), key=lambda j: (len(q & bigrams(segs[j])), j))
    lo = i
    while lo > 0 and (segs[lo].startswith(_CONTINUES) or len(segs[lo]) < 6):
        lo -= 1
    hi = i
    while hi + 1 < len(segs) and len("，".join(segs[lo:hi + 2])) <= LEAD_MAX:
        hi += 1
    return "，".join(segs[lo:hi + 1])


def _shown(prompt: dict, aid: str) -> str:
    text = prompt["context_texts"][prompt["context_ids"].index(aid)]
    return text.replace(TRUNCATED_MARK, "").strip()


def _label(article, paragraph: int | None) -> str:
    if paragraph and len(article.paragraphs) > 1:
        return f"{article.label}第{int_to_cn(paragraph)}款"
    return article.label


def write_target(q: dict, prompt: dict, store) -> dict | None:
    """The target row for one question and its app prompt, or None (no right answer from this context)."""
    gold = prompt["gold"]
    in_context = [g for g in gold if g and g in prompt["context_ids"]]
    base = {"id": q["id"], "query": q["query"], "gold": gold, "context_ids": prompt["context_ids"]}
    main = store.get(gold[0]) if gold[0] else None
    if main is None or prompt.get("refused"):
        return None
    advice = ADVICE[field_of_law(main)]
    if not in_context:
        text = _pick(ABSTAIN_OPENINGS, q["id"]) + ABSTAIN_NEXT
        if field_of_law(main) != "general":
            text += "如果需要维权，" + advice
        return dict(base, kind="abstain", target=text)
    if gold[0] not in in_context:
        return None  # only a secondary article is listed: the main one decides
    shown = _shown(prompt, gold[0])
    decide, paragraph = deciding_text(main, q.get("clause"))
    fact = q.get("key_fact")
    item_intro = None
    if decide is not None and _ITEM.match(decide) and paragraph:
        item_intro = main.paragraphs[paragraph - 1].split("\n")[0]  # 居住权合同一般包括下列条款：
    if decide is not None:
        if item_intro and f"{item_intro}……{decide}" in shown:
            quote = f"{item_intro}……{decide}"
        elif decide in shown:
            quote = decide
        elif decide.split("\n")[0] in shown:
            quote = decide.split("\n")[0]
        else:
            return None  # the context shows another 款 of the gold article
    else:
        quote, paragraph = shown, None
    if fact and fact not in quote:
        return None
    if len(quote) > 220:  # the sentence that decides, not a page of statute
        sents = [s for s in _SENT_END.split(quote) if s.strip()]
        q_grams = bigrams(q["query"])
        best = next((s for s in sents if fact and fact in s), None) or \
            max(sents, key=lambda x: len(q_grams & bigrams(x)))
        quote = best.strip()[:220]
    marker = prompt["context_ids"].index(gold[0]) + 1
    if item_intro:  # an enumerated item answers: its list's opening, then the item
        item = _ITEM.sub("", decide).rstrip("；;。，")
        m = re.search(r"有下列[^，：；]{0,12}之一的，", item_intro)
        if m and item_intro[m.end():].strip("：:"):  # 有下列行为之一的，处…：（三）X的 -> X的，处…
            lead_text = item.rstrip("的") + "的，" + item_intro[m.end():].rstrip("：:")
        else:
            lead_text = item_intro.rstrip("：:") + "，其中包括" + item
    else:
        lead_text = lead_sentence(quote, fact, q["query"])
    lead = _pick(LEAD_OPENINGS, q["id"]) + lead_text + "。"
    basis = f"根据{_label(main, paragraph)}[{marker}]的规定，“{quote.rstrip()}”"
    parts = [lead, basis]
    for other in in_context[1:]:
        art = store.get(other)
        extra = _shown(prompt, other)
        if art is None or not extra:
            continue
        if len(extra) > 160:
            extra = next((s for s in _SENT_END.split(extra) if s.strip()), extra)[:160]
        parts.append(f"此外，{art.label}[{prompt['context_ids'].index(other) + 1}]规定：“{extra.strip()}”")
    parts.append(advice)
    return dict(base, kind="answer", marker=marker, target="\n".join(parts))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", required=True, help="the question set (JSONL; learn rows are used)")
    ap.add_argument("--prompts", required=True, nargs="+", help="app prompts (assistant data sft --prompts-out)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--resume", action="store_true", help="keep the rows already in --out, write the rest")
    args = ap.parse_args(argv)

    from assistant.corpus import open_store
    from assistant.train.data.questions import read_questions

    questions = {q.id: q for q in read_questions(args.questions)}
    store = open_store(readonly=True)
    out = Path(args.out)
    done = set()
    if args.resume and out.exists():
        done = {json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines() if line.strip()}
    elif out.exists():
        out.unlink()
    batch: list[dict] = []
    written = skipped = 0

    def flush():
        with out.open("a", encoding="utf-8") as f:
            for row in batch:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        batch.clear()

    for file in args.prompts:
        for line in Path(file).read_text(encoding="utf-8").splitlines():
            prompt = json.loads(line)
            q = questions.get(prompt["id"])
            if q is None or q.id in done:
                continue
            done.add(q.id)
            row = write_target({"id": q.id, "query": q.query, "clause": q.clause, "key_fact": q.key_fact},
                               prompt, store)
            if row is None:
                skipped += 1
                continue
            batch.append(row)
            written += 1
            if len(batch) >= args.batch:
                flush()
    flush()
    print(f"{written} targets written to {out}, {skipped} questions without a right target from their context")
    return 0


if __name__ == "__main__":
    sys.exit(main())
