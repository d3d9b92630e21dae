"""Export a conversation with its sources and citation report, as Markdown (to read) and JSON (to process)."""
from __future__ import annotations

import datetime as _dt
import html
import json
from typing import Any, Sequence

from assistant.answer.labels import citation_badge, status_label
from assistant.webui.render import VIA_LABELS, Turn


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _hit_dict(hit, marker: int) -> dict[str, Any]:
    d = hit.to_dict() if hasattr(hit, "to_dict") else dict(hit)
    d["marker"] = marker
    return d


def conversation_dict(turns: Sequence[Turn], info: dict) -> dict[str, Any]:
    out = []
    for t in turns:
        if t.answer is not None:
            d = t.answer.to_dict()
        else:  # interrupted or failed turn: keep what there is
            d = {"question": t.question, "answer": t.text, "error": t.error,
                 "sources": [_hit_dict(h, i) for i, h in enumerate(t.hits, 1)], "citations": []}
        out.append(d)
    return {"exported_at": _now(), "backend": info.get("backend"), "model": info.get("model"), "turns": out}


def conversation_json(turns: Sequence[Turn], info: dict) -> str:
    return json.dumps(conversation_dict(turns, info), ensure_ascii=False, indent=2)


def _md(text: Any) -> str:
    """Text as Markdown that renders as the same text: raw HTML in a statute, a question or an answer
    (<script>, <img onerror>) becomes entities, which every CommonMark viewer shows literally."""
    return html.escape(str(text or ""), quote=False)


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in _md(text).split("\n"))


def _cell(text: Any) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def conversation_markdown(turns: Sequence[Turn], info: dict) -> str:
    lines = ["# 法律助手对话记录", "", f"- 导出时间：{_now()}", f"- 回答方式：{info.get('backend')}"
             + (f"（{info['model']}）" if info.get("model") else ""), ""]
    for i, t in enumerate(turns, 1):
        ans = t.answer
        lines += [f"## 第 {i} 问", "", _quote(t.question), "", "### 回答", "",
                  _md(ans.text if ans is not None else (t.text or "（未完成）")), ""]
        if t.error:
            lines += [f"**出错：** {_md(t.error)}", ""]
        if ans is not None and ans.notice:
            lines += [f"*{_md(ans.notice)}*", ""]
        if t.hits:
            lines += ["### 来源", ""]
            for n, hit in enumerate(t.hits, 1):
                a = hit.article
                where = " › ".join(a.headings)
                lines += [f"**[{n}] {_md(a.label)}** · {_md(status_label(a.status, a.version_date))} · {_md(VIA_LABELS.get(hit.via, hit.via))}"
                          + (f" · {_md(where)}" if where else ""), "", _quote(a.text), ""]
        if ans is not None and ans.citations:
            lines += ["### 引用核查", "", "| 引用 | 结论 | 说明 |", "|---|---|---|"]
            for c in ans.citations:
                badge = citation_badge(c)  # the same four checks and words as the badge in the chat
                lines.append(f"| {_cell(c.citation.span)} | {badge.label} | {_cell(badge.explanation)} |")
            lines.append("")
    return "\n".join(lines)
