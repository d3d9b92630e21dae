"""What users read about a citation, in Chinese, from the checker's fields.

"已核实" means all four checks passed: the article exists, it is in force, it was among the sources the
answer was given, and the sentence that cites it says what the article says. Otherwise the badge names the
check that failed (条文不存在 / 已废止 / 非现行文本 / 不在检索来源中 / 内容不符 / 部分相符). The web app, the
CLI and exports use these; the machine-readable verdicts in JSON stay as they are.
"""
from __future__ import annotations

from dataclasses import dataclass

#: how a source was found
VIA_LABELS = {
    "citation": "问题中直接引用",
    "bm25": "关键词检索",
    "dense": "语义检索",
    "both": "关键词 + 语义检索",
    "asked": "相似问题的出处",
    "general": "所属编、章的一般规定",
}
STATUS_LABELS = {"current": "现行有效", "amended": "现行有效（经修改）", "not_yet_effective": "尚未施行",
                 "not_yet_in_force": "尚未施行",
                 "repealed": "已废止", "historical": "历史版本"}
SUPPORT_LABELS = {"supported": "内容相符", "weak": "部分相符", "unsupported": "内容不符"}


@dataclass(frozen=True)
class Badge:
    key: str  # verified / partial / mismatch / not_in_context / superseded / repealed / not_found / unresolved
    icon: str
    label: str
    explanation: str  # every check, passed or failed, in one line


BADGE_STYLE = {  # key -> (css class, icon)
    "verified": ("v-verified", "✓"),
    "partial": ("v-partial", "≈"),
    "mismatch": ("v-mismatch", "!"),
    "not_in_context": ("v-outside", "!"),
    "not_yet_in_force": ("v-notyet", "⏳"),
    "superseded": ("v-superseded", "⟲"),
    "repealed": ("v-repealed", "✕"),
    "not_found": ("v-notfound", "✕"),
    "unresolved": ("v-unresolved", "?"),
}
_LABEL = {"verified": "已核实", "partial": "部分相符", "mismatch": "内容不符", "not_in_context": "不在检索来源中",
          "not_yet_in_force": "尚未施行",
          "superseded": "非现行文本", "repealed": "已废止", "not_found": "条文不存在", "unresolved": "无法识别"}


def _mark(ok: bool | None) -> str:
    return "?" if ok is None else ("✓" if ok else "✗")


def citation_badge(check) -> Badge:
    """The badge for one ``CitationCheck``: which of exists / in force / in context / supports held."""
    verdict = check.verdict
    in_force = check.status in ("current", "amended") if check.exists else False
    support = SUPPORT_LABELS.get(check.support_label, check.support_label)
    parts = [f"条文存在{_mark(check.exists)}", f"现行有效{_mark(in_force if check.exists else None)}",
             f"在检索来源中{_mark(check.in_context)}",
             f"与句子相符{_mark(check.support_label == 'supported') if check.exists else '?'}"
             + (f"（{support}，相似度 {check.support_score:.2f}）" if check.exists else "")]
    key = verdict
    if verdict == "verified":
        key = {"supported": "verified", "weak": "partial"}.get(check.support_label, "mismatch")
    elif verdict not in _LABEL:
        key = "unresolved"
    head = {
        "verified": "条文存在、现行有效、在检索来源中，且与所在句子内容相符",
        "partial": "条文存在、现行有效、在检索来源中，但与所在句子只部分相符",
        "mismatch": "条文存在、现行有效、在检索来源中，但所在句子说的不是这条的内容",
        "not_in_context": "条文存在，但不在本次检索到的来源中，回答不应引用它",
        "not_yet_in_force": "条文尚未施行，不是所问日期的现行法",
        "superseded": "引用的是已被修改前的文本或历史版本",
        "repealed": "引用的法律或条文已废止",
        "not_found": "法条库中没有这一条（或这一款、项）",
        "unresolved": "无法识别引用的是哪部法律",
    }[key]
    explanation = head + "。" + "，".join(parts)
    if getattr(check, "suggestion", None):
        explanation += f"。可能是指：{check.suggestion}"
    _, icon = BADGE_STYLE[key]
    return Badge(key, icon, _LABEL[key], explanation)


def status_label(status: str | None, last_amended: str | None = None) -> str:
    """Article status for users: 已被修改 (a law in force that has been amended) reads 现行有效, with the
    date of its last amendment when known."""
    if status == "已被修改":
        return f"现行有效（{last_amended} 修改）" if last_amended else "现行有效（经修改）"
    return status or "状态未知"
