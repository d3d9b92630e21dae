"""Support for citations listed on a basis line.

Small models answer first and then list their sources on a line of their own ("依据：《民法典》第1077条[1]").
The citing sentence of such a citation is empty once the citation is removed, so its support score is 0 and
the badge would say 内容不符 although the answer above says exactly what the article says. Here the answer's
claim (the text before the basis line) is scored against the article instead, with the checker's own scoring,
and the better of the two scores is kept (the reason says so).
"""
from __future__ import annotations

import re

from assistant.answer.check import bigrams

_CJK = re.compile(r"[\u4e00-\u9fff]")
_BASIS_HEAD = re.compile(r"(依据|法律依据|参考法条|根据)[:：]\s*$")
#: a citing sentence with fewer content characters than this is a bare reference
MIN_CONTENT = 12
#: characters of the answer before the basis line that count as its claim
CLAIM_CHARS = 400


def claim_before(text: str, start: int) -> str:
    """The answer text before the line that holds position ``start``, without a trailing 依据： head."""
    line_start = text.rfind("\n", 0, start) + 1
    before = text[:line_start] if line_start else text[:start]
    if not line_start:  # 离婚冷静期是三十天。依据：《…》 on one line: the text before 依据：
        before = _BASIS_HEAD.sub("", text[:start])
    return before.strip()[-CLAIM_CHARS:]


def rescore_basis_citations(checks, text: str, checker, store) -> None:
    """In place: a verified citation whose own sentence is a bare reference gets the support of the claim
    the answer makes before it, when that is higher."""
    law_index = getattr(checker, "_law_index", None)
    label = getattr(checker, "_label", None)
    if law_index is None or label is None:
        return
    for c in checks:
        if c.verdict != "verified" or c.support_label == "supported" or not c.citation.id:
            continue
        if len(_CJK.findall(re.sub(r"《[^》]*》|第[^条]{1,12}条", "", c.sentence or ""))) >= MIN_CONTENT:
            continue
        claim = claim_before(text, c.citation.start)
        article = store.get(c.citation.id) if hasattr(store, "get") else None
        if not claim or article is None:
            continue
        score = law_index(article.law).score(bigrams(claim), bigrams(article.text))
        if score > c.support_score:
            c.support_score, c.support_label = score, label(score)
            c.sentence = claim
            c.reason += f"; scored against the answer before its basis line ({score:.2f})"
