"""Support for citations listed on a basis line.

Small models answer first and then list their sources on a line of their own ("依据：《民法典》第1077条[1]").
The checker scores such a bare reference against the sentence before it; an answer's claim often spans
several sentences, so here the whole claim (up to ``CLAIM_CHARS`` before the basis line) is scored against the
article as well, with the checker's own scoring (``CitationChecker.support``), and the better of the two scores
is kept (the reason says so).
"""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u4e00-\u9fff]")
_BASIS_HEAD = re.compile(r"(依据|法律依据|参考法条|根据)[:：]\s*$")
#: a citing sentence with fewer content characters than this is a bare reference
MIN_CONTENT = 12
#: characters of the answer before the basis line that count as its claim
CLAIM_CHARS = 400
LINE_WINDOW = 300
_ENDS = "。！？!?\n；;"


def claim_before(text: str, start: int) -> str:
    """The answer text before the line that holds position ``start``, without a trailing 依据： head."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[:line_start] if line_start else text[:start]
    if not line_start:  # 离婚冷静期是三十天。依据：《…》 on one line: the text before 依据：
        before = _BASIS_HEAD.sub("", text[:start])
    return before.strip()[-CLAIM_CHARS:]


def rescore_basis_citations(checks, text: str, checker, store) -> None:
    """In place: a verified citation on a line that is a bare reference gets the support of the claim the
    answer makes before it, when that is higher."""
    for c in checks:
        if c.verdict != "verified" or c.support_label == "supported" or not c.citation.id:
            continue
        if not is_bare_line(text, c.citation.start):
            continue
        claim = claim_before(text, c.citation.start)
        article = store.get(c.citation.id) if hasattr(store, "get") else None
        if not claim or article is None:
            continue
        score, label = checker.support(claim, article)
        if score > c.support_score:
            c.support_score, c.support_label = score, label
            c.sentence = claim
            c.reason += f"; scored against the answer before its basis line ({score:.2f})"


def is_bare_line(text: str, pos: int) -> bool:
    """The sentence holding ``pos`` has next to no words besides its citations (a basis line). Looks at
    most ``LINE_WINDOW`` characters either side, so that many citations in a long text stay cheap."""
    lo, hi = max(0, pos - LINE_WINDOW), min(len(text), pos + LINE_WINDOW)
    start = max(max(text.rfind(ch, lo, pos) for ch in _ENDS) + 1, lo)
    ends = [i for i in (text.find(ch, pos, hi) for ch in _ENDS) if i != -1]
    own = text[start:min(ends) if ends else hi]
    return len(_CJK.findall(re.sub(r"《[^》]*》|第[^条]{1,12}条", "", own))) < MIN_CONTENT


#: articles a basis line added for an answer that cites none may name
ATTRIBUTED_MAX = 2


def attribution_line(text: str, hits, checker, limit: int = ATTRIBUTED_MAX) -> str | None:
    """A basis line for a model's answer that cites no article of its context (依据：《民法典》第九百零九条[2]):
    the context articles whose text the answer says, by the checker's own support score, supported ones
    only, best first. Small models often state the rule in the article's words and leave the citation out
    (Qwen2.5-Coder-1.5B: 5 of 7 STARD answers that missed a gold article in its sources cited nothing at all);
    the reader still needs to see which article says so. None when no article supports the answer."""
    claim = text.strip()[-CLAIM_CHARS:]
    if not claim:
        return None
    scored = []
    for marker, hit in enumerate(hits, 1):
        score, label = checker.support(claim, hit.article)
        if label == "supported":
            scored.append((score, marker, hit.article))
    if not scored:
        return None
    scored.sort(key=lambda s: (-s[0], s[1]))
    return "依据：" + "；".join(f"《{a.law_short}》{a.number_text}[{m}]" for _, m, a in scored[:limit])
