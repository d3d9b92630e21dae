"""HTML for the web app, as pure functions of ``Hit`` / ``Answer`` / ``CitationCheck`` objects.

Every piece of statute, question or answer text passes through ``esc`` before it reaches the page: an
uploaded file that contains ``<script>`` or ``<img onerror=…>`` is shown as those characters and never runs.
The only markup in the output is the markup written in this module.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from assistant.corpus.article import (STATUS_AMENDED, STATUS_CURRENT, STATUS_HISTORICAL, STATUS_NOT_YET,
                                      STATUS_REPEALED, Article)

#: status -> (css class, label shown on the badge)
STATUS_BADGES = {
    STATUS_CURRENT: ("s-current", "现行有效"),
    # 已被修改 is law in force that has been amended: green like current law, with the amendment date
    STATUS_AMENDED: ("s-current s-amended", "现行有效（经修改）"),
    STATUS_REPEALED: ("s-repealed", "已废止"),
    STATUS_HISTORICAL: ("s-historical", "历史版本"),
    STATUS_NOT_YET: ("s-notyet", "尚未施行"),
    "尚未施行": ("s-notyet", "尚未施行"),
}

from assistant.answer.labels import BADGE_STYLE, VIA_LABELS, citation_badge  # noqa: E402  (re-exported)

#: citation-checker verdict -> (css class, icon, short label)
VERDICT_BADGES = {
    "verified": ("v-verified", "✓", "已核实"),
    "not_in_context": ("v-outside", "!", "不在检索来源中"),
    "not_yet_in_force": ("v-notyet", "⏳", "尚未施行"),
    "superseded": ("v-superseded", "⟲", "已修改 / 非现行文本"),
    "repealed": ("v-repealed", "✕", "已废止"),
    "not_found": ("v-notfound", "✕", "条文不存在"),
    "unresolved": ("v-unresolved", "?", "无法识别"),
}

_MARKER = re.compile(r"\[(\d{1,2})\]")


def esc(text: Any) -> str:
    """Escape for HTML text and attribute values (quotes included)."""
    return html.escape("" if text is None else str(text), quote=True)


# -- small pieces ---------------------------------------------------------------------------------------
def status_badge(status: str | None, last_amended: str | None = None) -> str:
    cls, label = STATUS_BADGES.get(status or "", ("s-unknown", status or "状态未知"))
    if status == STATUS_AMENDED and last_amended:
        label = f"现行有效（{last_amended} 修改）"
    return f'<span class="status-badge {cls}">{esc(label)}</span>'


def verdict_badge(verdict: str, reason: str = "", *, with_label: bool = True) -> str:
    cls, icon, label = VERDICT_BADGES.get(verdict, ("v-unresolved", "?", verdict))
    text = f"{icon} {label}" if with_label else icon
    return f'<span class="verdict-badge {cls}" title="{esc(reason or label)}">{esc(text)}</span>'


def article_path(article: Article) -> str:
    """编 › 章 › 节, or an empty string for laws without headings."""
    return " › ".join(article.headings)


def _short_law(article: Article) -> str:
    return article.law_short or article.law


# -- statute text -----------------------------------------------------------------------------------------
def article_text_html(article: Article, highlight_paragraphs: Iterable[int] = (),
                      highlight_items: Iterable[tuple[int, int]] = ()) -> str:
    """The article's 款 as paragraphs; ``highlight_paragraphs`` are 0-based 款 indices and
    ``highlight_items`` (1-based 款, 1-based 项) pairs, as a citation such as 第一款第（二）项 names them."""
    marked = set(highlight_paragraphs)
    marked_items = set(highlight_items)
    out = []
    for p_index, para in enumerate(article.paragraphs):
        first, *item_lines = para.split("\n")
        cls = "para marked" if p_index in marked else "para"
        lines = [f'<span class="para-no">{p_index + 1}</span>{esc(first)}']
        for i_no, line in enumerate(item_lines, 1):
            item_cls = "item marked" if (p_index + 1, i_no) in marked_items else "item"
            lines.append(f'<span class="{item_cls}">{esc(line)}</span>')
        out.append(f'<p class="{cls}">{"".join(lines)}</p>')
    return "".join(out) or '<p class="para empty">（无正文）</p>'


def article_card(article: Article, *, dom_id: str | None = None, marker: int | None = None, via: str | None = None,
                 score: float | None = None, highlight_paragraphs: Iterable[int] = (),
                 highlight_items: Iterable[tuple[int, int]] = (), open_: bool = False,
                 extra_meta: str = "") -> str:
    """One collapsible source card: law, 编/章/节, article number, status, full text, how it was found."""
    id_attr = f' id="{esc(dom_id)}"' if dom_id else ""
    marker_attr = f' data-n="{marker}"' if marker is not None else ""
    head = []
    if marker is not None:
        head.append(f'<span class="src-n">[{marker}]</span>')
    head.append(f'<span class="src-law" title="{esc(article.law)}">《{esc(_short_law(article))}》</span>')
    head.append(f'<span class="src-num">{esc(article.number_text)}</span>')
    head.append(status_badge(article.status, article.version_date))
    extra = getattr(article, "extra", None) or {}
    if article.status == "尚未施行" and extra.get("effective_from"):
        head[-1] = f'<span class="status-badge s-notyet">{esc(extra.get("status_label"))}</span>'
    if extra.get("upcoming"):  # the text in force that day; a stored newer version starts later
        head.append(f'<span class="status-badge s-notyet">新版本{esc(extra["upcoming"])}起施行</span>')
    if article.kind:  # 法律 / 行政法规 / 司法解释 …: how much the source weighs
        head.append(f'<span class="kind-badge">{esc(article.kind)}</span>')
    meta = []
    path = article_path(article)
    if path:
        meta.append(f'<div class="src-path">{esc(path)}</div>')
    found = []
    if via:
        found.append(esc(VIA_LABELS.get(via, via)))
    if score is not None:
        found.append(f"得分 {score:.3f}")
    if found:
        meta.append(f'<div class="src-via">{" · ".join(found)}</div>')
    if extra_meta:
        meta.append(extra_meta)
    body = article_text_html(article, highlight_paragraphs, highlight_items)
    return (f'<details class="source-card"{id_attr}{marker_attr} data-article="{esc(article.id)}"'
            f'{" open" if open_ else ""}><summary><div class="src-head">{"".join(head)}</div>{"".join(meta)}'
            f'</summary><div class="src-text" lang="zh-CN">{body}'
            f'<div class="src-full-name">{esc(article.label)}</div></div></details>')


# -- answers -----------------------------------------------------------------------------------------------
def _cited_parts(article_id: str, checks: Sequence) -> tuple[set[int], set[tuple[int, int]]]:
    """款 and 项 of ``article_id`` that the answer's citations name, for highlighting in its card."""
    paras, items = set(), set()
    for check in checks or ():
        c = check.citation
        if c.id != article_id or not c.paragraph:
            continue
        if c.item:
            items.add((c.paragraph, c.item))
        else:
            paras.add(c.paragraph - 1)
    return paras, items


def sources_html(hits: Sequence, *, turn: int, checks: Sequence = ()) -> str:
    """Source cards for one answer, numbered like the [n] markers in its text."""
    if not hits:
        return ('<div class="no-sources">没有检索到相关条文。助手不会在没有条文依据的情况下作答。</div>')
    cards = []
    for n, hit in enumerate(hits, 1):
        paras, items = _cited_parts(hit.article.id, checks)
        cards.append(article_card(hit.article, dom_id=f"src-{turn}-{n}", marker=n, via=hit.via, score=hit.score,
                                  highlight_paragraphs=set(hit.matched_paragraphs) | paras, highlight_items=items))
    return "".join(cards)


def answer_text_html(text: str, checks: Sequence = (), *, turn: int = 0, n_sources: int = 0) -> str:
    """Escaped answer text with each checked citation wrapped in its verdict badge and each [n] marker made
    a link to source card n. Citation offsets (``Citation.start/end``) index into ``text``."""
    spans = sorted((c for c in checks or () if 0 <= c.citation.start < c.citation.end <= len(text)),
                   key=lambda c: c.citation.start)
    out, pos = [], 0
    for check in spans:
        c = check.citation
        if c.start < pos:  # overlapping spans (a list 第X、Y条 yields one check per number): badge the first only
            continue
        out.append(_markers(text[pos:c.start], turn, n_sources))
        badge = citation_badge(check)
        cls = BADGE_STYLE[badge.key][0]
        tip = f"{badge.label}：{badge.explanation}"
        out.append(f'<span class="cite {cls}" title="{esc(tip)}" data-verdict="{esc(check.verdict)}" '
                   f'data-badge="{esc(badge.key)}">'
                   f'{esc(text[c.start:c.end])}<sup class="cite-icon">{esc(badge.icon)}</sup></span>')
        pos = c.end
    out.append(_markers(text[pos:], turn, n_sources))
    return "".join(out)


def _markers(segment: str, turn: int, n_sources: int) -> str:
    escaped = esc(segment)  # [ ] and digits survive escaping unchanged

    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= n_sources:
            return m.group(0)
        return (f'<a class="marker" href="#src-{turn}-{n}" data-turn="{turn}" data-n="{n}" '
                f'title="查看来源 [{n}]">[{n}]</a>')

    return _MARKER.sub(link, escaped)


def citation_report_html(checks: Sequence) -> str:
    """A one-line summary of verdicts plus an expandable list with each citation's reason."""
    if not checks:
        return ""
    badges = [citation_badge(c) for c in checks]
    counts: dict[str, int] = {}
    for b in badges:
        counts[b.key] = counts.get(b.key, 0) + 1
    label_of = {b.key: b for b in badges}

    def pill(key: str, title: str, suffix: str = "") -> str:
        b = label_of[key]
        return (f'<span class="verdict-badge {BADGE_STYLE[key][0]}" title="{esc(title)}">'
                f'{esc(b.icon + " " + b.label)}{esc(suffix)}</span>')

    summary = " ".join(pill(k, f"{n} 处引用：{label_of[k].label}", f" ×{n}") for k, n in counts.items())
    rows = []
    for c, b in zip(checks, badges):
        label = c.article_label or c.citation.span
        rows.append(f'<li>{pill(b.key, b.explanation)} <span class="cite-span">{esc(c.citation.span)}</span>'
                    f'<span class="cite-label">{esc(label) if label != c.citation.span else ""}</span>'
                    f'<div class="cite-reason">{esc(b.explanation)}</div></li>')
    return (f'<details class="cite-report"><summary><span class="cite-report-title">引用核查</span>{summary}'
            f'</summary><ul>{"".join(rows)}</ul></details>')


# -- the conversation ------------------------------------------------------------------------------------
@dataclass
class Turn:
    """One question and its (possibly still streaming) answer, as the app keeps it per session."""

    question: str
    text: str = ""  # the answer text so far
    hits: list = field(default_factory=list)
    answer: Any = None  # the final ``Answer`` once the stream is done
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.answer is not None or self.error is not None


def turn_html(turn: Turn, index: int) -> str:
    q = f'<div class="msg user"><div class="bubble">{esc(turn.question)}</div></div>'
    checks = turn.answer.citations if turn.answer is not None else ()
    text = turn.answer.text if turn.answer is not None else turn.text
    parts = []
    if turn.error:
        parts.append(f'<div class="answer-error">出错了：{esc(turn.error)}</div>')
    if text:
        parts.append(f'<div class="answer-text">{answer_text_html(text, checks, turn=index, n_sources=len(turn.hits))}'
                     f'{"" if turn.done else "<span class=cursor></span>"}</div>')
    if not turn.done:
        parts.append(progress_html(turn))
    if turn.answer is not None:
        notice = answer_notice(turn.answer)
        if notice and notice not in (turn.answer.text or ""):
            parts.append(f'<div class="answer-notice">{esc(notice)}</div>')
        for flag in getattr(turn.answer, "fact_flags", None) or ():
            parts.append(f'<div class="answer-flag">⚠ {esc(flag.reason)}</div>')
        parts.append(citation_report_html(turn.answer.citations))
        ms = turn.answer.latency_ms
        meta = [f"{len(turn.hits)} 条来源", f"用时 {ms:.0f} 毫秒" if ms < 1000 else f"用时 {ms / 1000:.1f} 秒"]
        parts.append(f'<div class="answer-meta">{" · ".join(esc(m) for m in meta)}</div>')
    state = "done" if turn.done else "streaming"
    a = f'<div class="msg bot" data-state="{state}"><div class="bubble">{"".join(parts)}</div></div>'
    return f'<div class="turn" data-turn="{index}">{q}{a}</div>'


#: the stages of an answer, shown while it is being made (retrieving / reading N articles / writing)
STAGES = ("检索", "阅读条文", "撰写回答")


def progress_html(turn: Turn) -> str:
    """Which stage the answer is in: 1 retrieving, 2 reading the N articles found (a model's prefill, the
    longest wait on a CPU), 3 writing (tokens are arriving)."""
    if turn.text:
        stage, line = 2, "正在撰写回答…"
    elif turn.hits:
        stage, line = 1, f"正在阅读 {len(turn.hits)} 条相关条文…"
    else:
        stage, line = 0, "正在检索相关条文…"
    steps = "".join(f'<li class="{"done" if i < stage else ("active" if i == stage else "todo")}">{esc(name)}</li>'
                    for i, name in enumerate(STAGES))
    spinner = '<span class="spinner"></span>' if not turn.text else ""
    return (f'<div class="answer-pending" data-stage="{stage}">{spinner}<ol class="stages">{steps}</ol>'
            f'<span class="stage-line">{esc(line)}</span></div>')


def answer_notice(answer) -> str | None:
    """The answer's notice without the extractive backend's fixed one: the page banner says that once."""
    from assistant.answer.backends.extractive import NOTICE

    notice = (answer.notice or "").replace(NOTICE, "").strip("；; ")
    return notice or None


def conversation_html(turns: Sequence[Turn], *, welcome: str = "") -> str:
    if not turns:
        return f'<div class="conversation empty">{welcome}</div>'
    return f'<div class="conversation">{"".join(turn_html(t, i) for i, t in enumerate(turns))}</div>'


def source_panel_html(turns: Sequence[Turn]) -> str:
    """Sources of every turn, one group each; only the latest is shown until a marker asks for another."""
    if not turns:
        return '<div class="source-panel empty">提问后，这里会列出回答所依据的法条。点击回答中的 [1] [2] 可定位到对应条文。</div>'
    groups = []
    last = len(turns) - 1
    for i, t in enumerate(turns):
        checks = t.answer.citations if t.answer is not None else ()
        title = esc(t.question if len(t.question) <= 40 else t.question[:40] + "…")
        groups.append(f'<section class="source-group" data-turn="{i}"{"" if i == last else " hidden"}>'
                      f'<div class="group-title">第 {i + 1} 问：{title}</div>'
                      f'{_uncited_note(t)}'
                      f'{sources_html(t.hits, turn=i, checks=checks) if (t.hits or t.done) else ""}</section>')
    nav = ""
    if len(turns) > 1:
        nav = '<div class="group-nav">' + "".join(
            f'<button type="button" class="group-btn{" active" if i == last else ""}" data-turn="{i}">第 {i + 1} 问</button>'
            for i in range(len(turns))) + "</div>"
    return f'<div class="source-panel">{nav}{"".join(groups)}</div>'


def _uncited_note(turn: Turn) -> str:
    """When the answer cites none of the retrieved articles, say so: they are search results, not grounds."""
    if turn.answer is None or not turn.hits or turn.answer.citations:
        return ""
    return ('<div class="no-sources">回答没有引用下列任何条文：它们只是检索结果，与问题的关联可能很弱，'
            '不能作为依据。</div>')


BACKEND_LABELS = {"extractive": "摘录模式（无生成式模型）", "llamacpp": "本地 GGUF 模型（llama.cpp）",
                  "transformers": "本地模型（transformers）", "openai": "OpenAI 兼容接口"}


def backend_label(info: dict) -> str:
    backend = info.get("backend") or "extractive"
    label = BACKEND_LABELS.get(backend, backend)
    return label if backend == "extractive" else f"{label} · {info.get('model') or '（未命名）'}"


def banner_html(info: dict) -> str:
    """Which backend answers; a clear warning in extractive mode (no generative model configured)."""
    backend = info.get("backend") or "extractive"
    if backend == "extractive":
        return ('<div class="banner banner-extractive"><b>摘录模式</b>：未配置生成式模型。回答由检索到的法条原文摘录组成，'
                '每一句都标明出处；不做推理或改写。配置模型：<code>assistant serve --model 模型.gguf</code>'
                '（或 Hugging Face 模型文件夹、<code>--backend openai</code>）。</div>')
    model = info.get("model") or "（未命名）"
    return (f'<div class="banner banner-model">生成式模型：<b>{esc(backend)}</b> · {esc(model)}。'
            f'回答中的每一处法条引用都经过核查，见引用旁的标记。</div>')
