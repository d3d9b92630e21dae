"""The statutes tab's work, without Gradio: check uploads, preview what the parser found, import, browse.

Uploads arrive as files Gradio saved in its own upload folder. We read only those files, name them in
messages by their base name (a client-supplied path such as ``../../etc/x.txt`` contributes nothing but
``x.txt``), and refuse anything that is not a listed type or is over the size limit. Nothing is imported
unless every file parses: the store's import is one transaction.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from assistant.corpus.article import STATUS_CURRENT
from assistant.corpus.store import ArticleStore, ImportDiff, LawDocument
from assistant.webui.config import UPLOAD_TYPES
from assistant.webui.render import article_card, esc, status_badge


log = logging.getLogger(__name__)


class UploadError(ValueError):
    """One or more uploads were refused; the message lists every problem, one per line."""


MAX_NAME_CHARS = 120
MAX_LOOKUP_CHARS = 500


def display_name(client_name: str) -> str:
    """The file's base name only, without directories, control characters or an absurd length (a long name
    is cut in its stem, so it keeps its extension: the type check and the parser go by the extension)."""
    name = re.split(r"[\\/]", str(client_name))[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = dot + ext if dot and 0 < len(ext) <= 10 else ""
        name = (stem if ext else name)[:MAX_NAME_CHARS - len(ext) - 1] + "…" + ext
    return name or "upload"


@dataclass
class Upload:
    path: Path  # where Gradio stored it (server-side)
    name: str  # display name (base name only)
    size: int


def _path_of(item) -> tuple[Path, str]:
    """Gradio hands us a path string, or a FileData-like object/dict (API calls); keep the original name
    only for display."""
    if isinstance(item, (str, Path)):
        return Path(item), Path(item).name
    if isinstance(item, dict):
        return Path(item["path"]), item.get("orig_name") or Path(item["path"]).name
    path = getattr(item, "path", None) or getattr(item, "name")
    return Path(path), getattr(item, "orig_name", None) or Path(path).name


def check_uploads(files: Sequence, max_bytes: int, upload_root: str | Path | None = None) -> list[Upload]:
    """Validate every upload; raise ``UploadError`` naming each bad file (nothing is read further)."""
    if not files:
        raise UploadError("请先选择要上传的法规文件（.txt / .md / .docx / .jsonl）。")
    root = Path(upload_root).resolve() if upload_root else None
    uploads, problems = [], []
    for item in files:
        path, orig = _path_of(item)
        name = display_name(orig)
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_TYPES:
            problems.append(f"{name}：不支持的文件类型 {suffix or '（无扩展名）'}，只接受 {' / '.join(UPLOAD_TYPES)}")
            continue
        resolved = path.resolve()
        if root is not None and root not in resolved.parents:
            problems.append(f"{name}：不是通过本页面上传的文件，已拒绝")
            continue
        if not resolved.is_file():
            problems.append(f"{name}：文件不存在或已过期，请重新上传")
            continue
        size = resolved.stat().st_size
        if size > max_bytes:
            problems.append(f"{name}：文件大小 {size / 1048576:.1f} MB 超过上限 {max_bytes / 1048576:.0f} MB")
            continue
        if size == 0:
            problems.append(f"{name}：空文件")
            continue
        uploads.append(Upload(resolved, name, size))
    if problems:
        raise UploadError("\n".join(problems))
    return uploads


@dataclass
class Preview:
    documents: list[LawDocument] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)  # one per law found
    errors: list[str] = field(default_factory=list)  # one per file that failed; nothing may be imported then
    #: laws the import would remove a large part of (``ImportDiff``s): importing needs a confirmation
    destructive: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.documents)

    @property
    def article_count(self) -> int:
        return sum(len(d.articles) for d in self.documents)


def parse_uploads(uploads: Sequence[Upload], store: ArticleStore, status: str = STATUS_CURRENT) -> Preview:
    """Parse each upload and compare it with the store (what an import would add / change / remove).

    Files are read as ``assistant corpus import`` reads them (``importer.parse_one``); unlike the CLI's
    per-file import, an upload is all or nothing: any file that is no statute, fails, or holds an older
    version than the store's is reported and nothing is imported."""
    from assistant.corpus.importer import FAILED, drop_older_versions, parse_one

    preview = Preview()
    seen: dict[tuple[str, str], str] = {}
    for up in uploads:
        try:
            docs, result = parse_one(up.path, status=status, display_name=up.name)
        except Exception:  # still the file's fault; the detail (with server paths) goes to the log only
            log.exception("reading upload %s (%s) failed", up.name, up.path)
            preview.errors.append(f"{up.name}: 无法读取该文件（格式不受支持或文件已损坏）")
            continue
        if not docs:
            reason = result.reason if result.outcome == FAILED else f"{up.name}: 未导入：{result.reason}"
            preview.errors.append(reason)
            continue
        # a collection's older text never replaces a newer stored one; a corrected re-upload of the same
        # version does (its diff is shown)
        docs, older = drop_older_versions(store, docs, same_version_other_source=False)
        preview.errors += [f"{up.name}: {r}" for r in older]
        for doc in docs:
            key = (doc.law, doc.info.version_date or "")  # one file may hold several versions of a law
            if key in seen:
                preview.errors.append(f"{up.name}: 《{doc.law}》也出现在 {seen[key]} 中；同一部法律请只上传一次")
                continue
            seen[key] = up.name
            diff = store.diff(doc)
            preview.documents.append(doc)
            preview.rows.append({"file": up.name, "law": doc.law, "articles": len(doc.articles),
                                 "status": doc.info.status, "new_law": store.law(doc.law) is None,
                                 "added": len(diff.added), "changed": len(diff.changed),
                                 "removed": len(diff.removed), "unchanged": diff.unchanged,
                                 "warnings": list(doc.warnings), "needs_confirm": diff.removes_large_part})
            if diff.removes_large_part:
                preview.destructive.append(diff)
    if preview.ok:
        # the import itself, rolled back: whatever the store would refuse, the preview refuses too
        try:
            store.import_laws(preview.documents, dry_run=True, replace=True)
        except ValueError as exc:
            preview.errors.append(f"导入检查未通过：{exc}")
        except Exception:
            log.exception("dry-run import of %s failed", [u.name for u in uploads])
            preview.errors.append("导入检查未通过（服务器内部错误，详情已记录在服务器日志中）")
    return preview


def removal_warning_html(diffs: Sequence[ImportDiff]) -> str:
    """What a destructive import would remove, and how to go ahead anyway."""
    items = "".join(f"<li>《{esc(d.law)}》：将删除现有 {d.existing} 条中的 {len(d.removed)} 条"
                    f"（{esc(d.removed_labels(30))}）</li>" for d in diffs)
    return (f'<div class="admin-error"><b>此次导入将删除现有法律的大部分条文：</b><ul>{items}</ul>'
            '请核对文件是否完整。确需替换时，勾选“确认删除上列条文”后再点击“导入并更新索引”。</div>')


def preview_html(preview: Preview) -> str:
    parts = []
    if preview.errors:
        items = "".join(f"<li>{esc(e)}</li>" for e in preview.errors)
        parts.append(f'<div class="admin-error"><b>文件有错误，未导入任何内容。</b>请修正后重新上传：<ul>{items}</ul></div>')
    if preview.rows:
        rows = []
        for r in preview.rows:
            warn = "".join(f"<li>{esc(w)}</li>" for w in r["warnings"][:20])
            more = f"<li>……另有 {len(r['warnings']) - 20} 条</li>" if len(r["warnings"]) > 20 else ""
            rows.append(
                f'<tr><td>{esc(r["file"])}</td><td class="law">《{esc(r["law"])}》'
                f'{" <span class=new-law>新法律</span>" if r["new_law"] else ""}</td>'
                f'<td class="num">{r["articles"]}</td><td>{status_badge(r["status"])}</td>'
                f'<td class="diff"><span class="d-add">+{r["added"]}</span> <span class="d-chg">~{r["changed"]}</span> '
                f'<span class="d-del">−{r["removed"]}</span> <span class="d-same">={r["unchanged"]}</span></td>'
                f'<td>{f"<ul class=warnings>{warn}{more}</ul>" if warn else "无"}</td></tr>')
        parts.append('<table class="preview-table"><thead><tr><th>文件</th><th>法律</th><th>条数</th><th>状态</th>'
                     '<th>与现有库相比</th><th>警告</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")
        if preview.ok and preview.destructive:
            parts.append(removal_warning_html(preview.destructive))
        if preview.ok:
            parts.append(f'<div class="admin-ok">解析成功：{len(preview.documents)} 部法律，共 {preview.article_count} 条。'
                         f'确认无误后点击“导入并更新索引”。</div>')
    return "".join(parts) or '<div class="admin-hint">上传文件后点击“解析预览”。</div>'


def diff_summary_html(diffs: Sequence[ImportDiff], index_note: str) -> str:
    rows = []
    for d in diffs:
        sample = lambda ids: "、".join(i.split("#", 1)[-1] for i in ids[:8]) + ("…" if len(ids) > 8 else "")
        rows.append(f'<tr><td class="law">《{esc(d.law)}》</td><td class="d-add">+{len(d.added)}</td>'
                    f'<td class="d-chg">~{len(d.changed)}</td><td class="d-del">−{len(d.removed)}</td>'
                    f'<td class="d-same">{d.unchanged}</td><td class="ids">'
                    f'{esc("新增 " + sample(d.added)) if d.added else ""} {esc("修改 " + sample(d.changed)) if d.changed else ""}'
                    f' {esc("删除 " + sample(d.removed)) if d.removed else ""}</td></tr>')
    return ('<div class="admin-ok"><b>导入完成。</b>' + esc(index_note) + '</div>'
            '<table class="preview-table"><thead><tr><th>法律</th><th>新增</th><th>修改</th><th>删除</th><th>未变</th>'
            '<th>条文</th></tr></thead><tbody>' + "".join(rows) + "</tbody></table>")


# -- browsing ----------------------------------------------------------------------------------------------
def law_articles_rows(store: ArticleStore, law: str) -> list[list[str]]:
    from assistant.corpus.status import article_on, day_or_today, with_history

    rows = []
    day = day_or_today(None)
    articles = list(store.articles(law))
    older = with_history(store, [a.id for a in articles])
    for a in articles:
        a = article_on(store, a, day, has_history=a.id in older)  # today's text and status
        text = a.text.replace("\n", " ")
        rows.append([a.number_text, " › ".join(a.headings), a.extra.get("status_label", a.status),
                     text[:80] + ("…" if len(text) > 80 else "")])
    return rows


def law_info_html(store: ArticleStore, law: str) -> str:
    info = store.law(law)
    if info is None:
        return f'<div class="admin-error">库中没有《{esc(law)}》。</div>'
    from assistant.corpus.versions import format_dates

    # each version's own dates: a revised law's stored effective date is often the original law's
    facts = [f"{info.articles} 条", info.kind or info.doc_type, info.issuing_body,
             format_dates(info.promulgated, info.effective, info.version_date) or None,
             store.law_note(info.law), f"来源 {info.source}" if info.source else None]
    from assistant.corpus.status import law_status

    st = law_status(store, info)  # today's status from the dates; the source's is provenance
    badge = status_badge(st.status) if not st.not_yet else \
        f'<span class="status-badge s-notyet">{esc(st.label)}</span>'
    if st.upcoming:
        badge += f'<span class="status-badge s-notyet">新版本{esc(st.upcoming)}起施行</span>'
    return (f'<div class="law-info"><span class="law-title">《{esc(info.law)}》</span>{badge}'
            f'<div class="law-facts">{" · ".join(esc(f) for f in facts if f)}</div></div>')


def _as_today(store: ArticleStore, art):
    """The stored text with its status today, and (when another text is in force today) that text."""
    import dataclasses

    from assistant.corpus.status import article_status

    on = article_status(store, art)
    stored = on.stored or on.status
    art = dataclasses.replace(art, status=stored.status, extra={**art.extra, "status_label": stored.label,
                                                                 "effective_from": stored.start})
    if on.substituted:
        return art, (f'<div class="src-history">今日有效的是 {esc(on.status.start or "较早")} 版本'
                     f'（{esc(on.status.label)}）：{esc(on.text)}</div>')
    return art, ""


def lookup_citation(store: ArticleStore, reference: str) -> str:
    """An article card for 民法典第1043条 / 刑法133条之一 / 《中华人民共和国刑法》第一百三十三条之一, or why not."""
    from assistant.corpus.citations import CitationError, find_citations, parse_reference

    if not isinstance(reference, (str, type(None))):
        return '<div class="admin-error">引用必须是文本。</div>'
    reference = (reference or "").strip()
    if not reference:
        return '<div class="admin-hint">输入法条引用，例如：民法典第1043条、刑法133条之一。</div>'
    if len(reference) > MAX_LOOKUP_CHARS:
        return (f'<div class="admin-error">引用太长（{len(reference)} 字）：一次最多查找 {MAX_LOOKUP_CHARS} 字以内的引用，'
                f'例如：民法典第1043条、第1079条。</div>')
    resolver = store.resolver()
    try:
        targets = [parse_reference(reference, resolver)]
    except CitationError as first_error:
        # lists and ranges (民法典第1076条、第1079条) go through the full citation finder
        cites = [c for c in find_citations(reference, resolver) if c.law]
        if not cites:
            return f'<div class="admin-error">无法识别该引用：{esc(first_error)}</div>'
        targets = [(c.law, c.number, c.suffix) for c in cites][:20]
    cards = []
    for law, number, suffix in targets:
        art = store.find(law, number, suffix)
        if art is None:
            nums = store.numbers(law)
            span = f"（该法共 {len(nums)} 条，第{nums[0][0]}条至第{nums[-1][0]}条）" if nums else ""
            from assistant.corpus.numerals import article_number_text

            cards.append(f'<div class="admin-error">《{esc(law)}》没有{esc(article_number_text(number, suffix))}'
                         f'{esc(span)}。</div>')
            continue
        versions = store.history(art.id)
        extra = ""
        if versions:
            items = "".join(f"<li>{esc(v.version_date or '日期不详')} 版本（{esc(v.status)}），"
                            f"{esc(v.superseded_at[:10])} 被替换</li>" for v in versions)
            extra = f'<div class="src-history">历史版本 {len(versions)} 个：<ul>{items}</ul></div>'
        art, today_note = _as_today(store, art)
        cards.append(article_card(art, open_=True, extra_meta=today_note + extra))
    return "".join(cards)
