"""Page styling and the few lines of browser code the app needs (marker -> source card navigation)."""
from __future__ import annotations

CJK_SANS = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
CJK_SERIF = '"Noto Serif CJK SC", "Noto Serif SC", "Source Han Serif SC", "Songti SC", "SimSun", serif'


def theme():
    """A calm theme with local fonts only (the default themes fetch Google Fonts, which an offline or
    intranet deployment cannot reach)."""
    import gradio as gr

    return gr.themes.Soft(
        primary_hue=gr.themes.colors.indigo, secondary_hue=gr.themes.colors.slate, neutral_hue=gr.themes.colors.slate,
        font=["Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"],
    )


CSS = """
.gradio-container { max-width: 1380px !important; margin: 0 auto !important; font-family: %(sans)s; }
#app-header { display: flex; align-items: baseline; gap: 14px; padding: 6px 2px 2px; }
#app-header h1 { font-size: 1.55rem; margin: 0; font-weight: 700; letter-spacing: .02em; color: #1e1b4b; }
#app-header .sub { color: #64748b; font-size: .92rem; }
.banner { border-radius: 10px; padding: 9px 14px; font-size: .9rem; line-height: 1.55; }
.banner code { font-size: .82rem; background: rgba(255,255,255,.6); padding: 1px 5px; border-radius: 4px; }
.banner-extractive { background: #fff7e6; border: 1px solid #f5c26b; color: #7a4b00; }
.banner-model { background: #eef2ff; border: 1px solid #c7d2fe; color: #312e81; }

/* conversation */
#conversation { min-height: 440px; }
.conversation { display: flex; flex-direction: column; gap: 18px; padding: 6px 2px 10px; }
.conversation.empty { color: #475569; padding: 28px 18px; line-height: 1.8; }
.welcome h2 { font-size: 1.2rem; margin: 0 0 8px; color: #1e293b; }
.welcome ul { margin: 6px 0 0 1.1em; padding: 0; }
.turn { display: flex; flex-direction: column; gap: 8px; }
.msg { display: flex; }
.msg.user { justify-content: flex-end; }
.msg .bubble { max-width: 92%%; border-radius: 14px; padding: 11px 15px; line-height: 1.85; font-size: 1rem;
  white-space: pre-wrap; word-break: break-word; }
.msg.user .bubble { background: #4f46e5; color: #fff; border-bottom-right-radius: 4px; }
.msg.bot .bubble { background: #fff; border: 1px solid #e2e8f0; border-bottom-left-radius: 4px;
  box-shadow: 0 1px 2px rgba(15,23,42,.05); color: #0f172a; width: 92%%; }
.answer-text { font-family: %(sans)s; }
.answer-pending { color: #64748b; display: flex; align-items: center; gap: 8px; }
.spinner { width: 14px; height: 14px; border: 2px solid #c7d2fe; border-top-color: #4f46e5; border-radius: 50%%;
  display: inline-block; animation: spin .8s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
.cursor { display: inline-block; width: 7px; height: 1.05em; background: #4f46e5; margin-left: 2px;
  vertical-align: text-bottom; animation: blink 1s steps(1) infinite; }
@keyframes blink { 50%% { opacity: 0; } }
a.marker { color: #4338ca; font-weight: 600; text-decoration: none; background: #eef2ff; border-radius: 4px;
  padding: 0 3px; margin: 0 1px; font-size: .85em; cursor: pointer; }
a.marker:hover { background: #c7d2fe; }
.cite { border-bottom: 2px solid; padding-bottom: 1px; cursor: help; }
.cite .cite-icon { font-size: .7em; font-weight: 700; margin-left: 1px; }
.cite.v-notyet { border-color: #0284c7; background: #f0f9ff; } .cite.v-notyet .cite-icon { color: #0284c7; }
.cite.v-verified { border-color: #16a34a; } .cite.v-verified .cite-icon { color: #16a34a; }
.cite.v-outside { border-color: #d97706; background: #fffbeb; } .cite.v-outside .cite-icon { color: #d97706; }
.cite.v-superseded, .cite.v-repealed { border-color: #dc2626; background: #fef2f2; }
.cite.v-superseded .cite-icon, .cite.v-repealed .cite-icon { color: #dc2626; }
.cite.v-notfound { border-color: #dc2626; background: #fee2e2; text-decoration: line-through wavy #dc2626; }
.cite.v-notfound .cite-icon { color: #dc2626; }
.cite.v-unresolved { border-color: #94a3b8; border-bottom-style: dashed; }
.answer-notice { margin-top: 10px; font-size: .85rem; color: #92400e; background: #fffbeb; border-radius: 8px;
  padding: 6px 10px; white-space: normal; }
.answer-error { color: #b91c1c; }
.answer-meta { margin-top: 6px; font-size: .78rem; color: #94a3b8; white-space: normal; }
.cite-report { margin-top: 10px; font-size: .86rem; white-space: normal; border-top: 1px dashed #e2e8f0; padding-top: 8px; }
.cite-report summary { cursor: pointer; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; list-style: none; }
.cite-report summary::-webkit-details-marker { display: none; }
.cite-report summary::before { content: "▸"; color: #64748b; }
.cite-report[open] summary::before { content: "▾"; }
.cite-report-title { font-weight: 600; color: #334155; margin-right: 4px; }
.cite-report ul { list-style: none; margin: 8px 0 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
.cite-report li { background: #f8fafc; border-radius: 8px; padding: 6px 10px; }
.cite-span { font-weight: 600; margin-left: 6px; } .cite-label { color: #64748b; margin-left: 6px; font-size: .82rem; }
.cite-reason { color: #475569; font-size: .82rem; margin-top: 2px; }
.cite-suggest { color: #4338ca; font-size: .82rem; }
.verdict-badge, .status-badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: .76rem;
  font-weight: 600; white-space: nowrap; line-height: 1.6; }
.verdict-badge.v-verified { background: #dcfce7; color: #166534; }
.verdict-badge.v-outside { background: #fef3c7; color: #92400e; }
.verdict-badge.v-partial { background: #fef9c3; color: #854d0e; }
.verdict-badge.v-mismatch { background: #fee2e2; color: #991b1b; }
.cite.v-partial { border-color: #ca8a04; } .cite.v-partial .cite-icon { color: #ca8a04; }
.cite.v-mismatch { border-color: #dc2626; background: #fef2f2; } .cite.v-mismatch .cite-icon { color: #dc2626; }
.verdict-badge.v-superseded, .verdict-badge.v-repealed { background: #fee2e2; color: #991b1b; }
.verdict-badge.v-notyet { background: #e0f2fe; color: #075985; }
.verdict-badge.v-notfound { background: #dc2626; color: #fff; }
.verdict-badge.v-unresolved { background: #e2e8f0; color: #334155; }
.status-badge.s-current { background: #dcfce7; color: #166534; }
.status-badge.s-amended { background: #dcfce7; color: #166534; }
.status-badge.s-repealed { background: #fee2e2; color: #991b1b; }
.status-badge.s-historical, .status-badge.s-unknown { background: #e2e8f0; color: #334155; }
.status-badge.s-notyet { background: #e0f2fe; color: #075985; }
.kind-badge { display: inline-block; border-radius: 4px; padding: 0 6px; font-size: .72rem; margin-left: 4px;
  border: 1px solid #cbd5e1; color: #475569; }

/* sources */
/* the panel scrolls inside itself: an expanded card never grows under the settings below it */
#source-panel { height: auto !important; overflow: visible; }
#source-panel .source-panel { max-height: 60vh; overflow-y: auto; overflow-x: hidden; padding-right: 4px; }
#settings { position: relative; z-index: 1; margin-top: 12px; background: var(--block-background-fill, #fff); }
.stages { display: inline-flex; gap: 6px; list-style: none; margin: 0 8px 0 0; padding: 0; font-size: .78rem; }
.stages li { padding: 1px 8px; border-radius: 999px; background: #e2e8f0; color: #64748b; }
.stages li.done { background: #dcfce7; color: #166534; }
.stages li.active { background: #e0e7ff; color: #3730a3; font-weight: 600; }
.answer-flag { margin-top: 6px; font-size: .85rem; color: #991b1b; background: #fef2f2; border-radius: 6px;
  padding: 4px 8px; }
.source-panel.empty { color: #64748b; font-size: .9rem; padding: 14px; line-height: 1.7; background: #f8fafc;
  border-radius: 10px; }
.group-nav { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 8px; }
.group-btn { border: 1px solid #cbd5e1; background: #fff; border-radius: 999px; padding: 2px 10px; font-size: .8rem;
  cursor: pointer; color: #334155; }
.group-btn.active { background: #4f46e5; border-color: #4f46e5; color: #fff; }
.group-title { font-size: .82rem; color: #64748b; margin: 0 0 8px; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.no-sources { color: #92400e; background: #fffbeb; border-radius: 8px; padding: 10px; font-size: .9rem; }
.source-card { border: 1px solid #e2e8f0; border-radius: 10px; margin-bottom: 8px; background: #fff;
  transition: box-shadow .3s, border-color .3s; }
.source-card.flash { border-color: #6366f1; box-shadow: 0 0 0 3px #c7d2fe; }
.source-card > summary { cursor: pointer; padding: 9px 12px; list-style: none; }
.source-card > summary::-webkit-details-marker { display: none; }
.source-card[open] > summary { border-bottom: 1px solid #f1f5f9; }
.src-head { display: flex; align-items: center; flex-wrap: wrap; gap: 6px; }
.src-n { color: #4338ca; font-weight: 700; }
.src-law { font-weight: 600; color: #0f172a; }
.src-num { font-weight: 600; color: #0f172a; }
.src-path, .src-via { font-size: .78rem; color: #64748b; margin-top: 2px; }
.src-text { padding: 8px 14px 10px; font-family: %(serif)s; font-size: .95rem; line-height: 1.9; color: #1e293b; }
.src-text .para { margin: 0 0 6px; text-indent: 0; }
.src-text .para.marked { background: #fef9c3; border-left: 3px solid #eab308; padding-left: 8px; margin-left: -11px; }
.src-text .para-no { display: inline-block; min-width: 1.4em; font-family: %(sans)s; font-size: .7rem; color: #94a3b8;
  vertical-align: super; }
.src-text .item { display: block; padding-left: 1.6em; }
.src-text .item.marked { background: #fde68a; }
.src-full-name { font-family: %(sans)s; font-size: .75rem; color: #94a3b8; margin-top: 4px; }
.src-history { font-size: .8rem; color: #475569; } .src-history ul { margin: 2px 0 0 1.2em; padding: 0; }

/* statutes tab */
.admin-error { background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; border-radius: 10px; padding: 10px 14px;
  margin-bottom: 10px; white-space: pre-wrap; }
.admin-error ul { margin: 6px 0 0 1.2em; padding: 0; white-space: normal; }
.admin-ok { background: #f0fdf4; border: 1px solid #bbf7d0; color: #166534; border-radius: 10px; padding: 10px 14px;
  margin: 10px 0; }
.admin-hint { color: #64748b; padding: 8px 2px; }
.preview-table { width: 100%%; border-collapse: collapse; font-size: .88rem; }
.preview-table th, .preview-table td { border-bottom: 1px solid #e2e8f0; padding: 6px 8px; text-align: left;
  vertical-align: top; }
.preview-table th { background: #f8fafc; color: #475569; font-weight: 600; }
.preview-table .num { text-align: right; }
.preview-table ul.warnings { margin: 0; padding-left: 1.1em; color: #92400e; font-size: .8rem; }
.d-add { color: #15803d; font-weight: 600; } .d-chg { color: #b45309; font-weight: 600; }
.d-del { color: #b91c1c; font-weight: 600; } .d-same { color: #64748b; }
.new-law { font-size: .72rem; background: #e0e7ff; color: #3730a3; border-radius: 999px; padding: 0 7px; }
.law-info { padding: 6px 0; } .law-title { font-weight: 700; font-size: 1.05rem; margin-right: 8px; }
.law-facts { color: #64748b; font-size: .85rem; margin-top: 4px; }
#corpus-stats { color: #64748b; font-size: .85rem; }
#examples { gap: 6px !important; flex-wrap: wrap !important; align-items: center; }
#examples .example-label { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; color: #64748b; font-size: .85rem; }
#examples button.example-q { flex: 0 1 auto !important; min-width: 0 !important; width: auto !important;
  border-radius: 999px !important; padding: 3px 12px !important; font-weight: 400 !important; }
#chat-tools { gap: 6px !important; }
#chat-tools button { flex: 0 1 auto !important; min-width: 0 !important; width: auto !important; }
""" % {"sans": CJK_SANS, "serif": CJK_SERIF}

#: runs once when the conversation component mounts: [n] markers open card n of that turn's sources
CONVERSATION_JS = """
element.addEventListener('click', (event) => {
  const marker = event.target.closest('a.marker');
  if (!marker) return;
  event.preventDefault();
  const turn = marker.dataset.turn, n = marker.dataset.n;
  const panel = document.getElementById('source-panel');
  if (!panel) return;
  panel.querySelectorAll('.source-group').forEach((g) => { g.hidden = g.dataset.turn !== turn; });
  panel.querySelectorAll('.group-btn').forEach((b) => b.classList.toggle('active', b.dataset.turn === turn));
  const card = document.getElementById(`src-${turn}-${n}`);
  if (!card) return;
  card.open = true;
  card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  card.classList.add('flash');
  setTimeout(() => card.classList.remove('flash'), 1400);
});
"""

#: source panel: buttons switch between the sources of earlier questions
SOURCES_JS = """
element.addEventListener('click', (event) => {
  const btn = event.target.closest('button.group-btn');
  if (!btn) return;
  const turn = btn.dataset.turn;
  element.querySelectorAll('.source-group').forEach((g) => { g.hidden = g.dataset.turn !== turn; });
  element.querySelectorAll('.group-btn').forEach((b) => b.classList.toggle('active', b === btn));
});
"""
