"""The statutes tab (法规管理): admin login, upload -> preview -> import (with the index update), and browsing
and looking up articles. An import updates the chat tab's law filter and corpus line, which it is given."""
# no ``from __future__ import annotations``: Gradio injects gr.Request / gr.SelectData by their annotations
import logging
import time

import gradio as gr

from assistant.corpus.store import DestructiveImportError
from assistant.webui import render
from assistant.webui.auth import client_key, credentials_match
from assistant.webui.config import UPLOAD_TYPES
from assistant.webui.state import AppState
from assistant.webui.statutes import (UploadError, check_uploads, diff_summary_html, law_articles_rows, law_info_html,
                                      lookup_citation, parse_uploads, preview_html, removal_warning_html)

log = logging.getLogger(__name__)

STATUS_CHOICES = ["现行有效", "已被修改", "尚未生效", "已废止", "历史版本"]
NOTHING_IMPORTED = '<div class="admin-error"><b>未导入任何内容。</b>{}</div>'


def upload_root() -> str:
    """Gradio's upload folder: the only place uploads may be read from."""
    from gradio.utils import get_upload_folder

    return get_upload_folder()


class StatutesTab:
    def __init__(self, state: AppState):
        self.state = state

    # -- login ---------------------------------------------------------------------------------------------
    def require_admin(self, authed: bool) -> None:
        if self.state.config.auth_required and not authed:
            raise gr.Error("需要管理员登录。")

    def login(self, user, password, authed, request: gr.Request):
        """The only login: every route to it (button, API) goes through the per-client limiter."""
        config, limiter = self.state.config, self.state.limiter
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

    def logout(self):
        return False, gr.update(visible=True), gr.update(visible=False), "已退出登录。"

    # -- import --------------------------------------------------------------------------------------------
    def preview(self, files, status, authed):
        self.require_admin(authed)
        try:
            uploads = check_uploads(files or [], self.state.config.max_upload_bytes, upload_root())
        except UploadError as exc:
            return NOTHING_IMPORTED.format("\n" + render.esc(exc))
        return preview_html(parse_uploads(uploads, self.state.store, status or "现行有效"))

    def do_import(self, files, status, confirm_removal, authed, progress=gr.Progress(track_tqdm=True)):
        self.require_admin(authed)
        if not self.state.import_lock.acquire(blocking=False):
            raise gr.Error("另一个导入正在进行，请稍后再试。")
        try:
            return self._import(files, status, confirm_removal, progress)
        finally:
            self.state.import_lock.release()

    def _import(self, files, status, confirm_removal, progress):
        store = self.state.store
        progress(0.0, desc="检查并解析文件")
        try:
            uploads = check_uploads(files or [], self.state.config.max_upload_bytes, upload_root())
        except UploadError as exc:
            return NOTHING_IMPORTED.format("\n" + render.esc(exc)), gr.update()
        parsed = parse_uploads(uploads, store, status or "现行有效")
        if not parsed.ok:
            return preview_html(parsed), gr.update()
        if parsed.destructive and not confirm_removal:
            return removal_warning_html(parsed.destructive) + NOTHING_IMPORTED.format(""), gr.update()
        progress(0.15, desc="写入法条库")
        try:
            diffs = store.import_laws(parsed.documents, replace=bool(confirm_removal))
        except DestructiveImportError as exc:  # the store changed between the check and the import
            return removal_warning_html(exc.diffs), gr.update()
        except Exception:
            log.exception("import failed")
            return ('<div class="admin-error"><b>导入失败，未导入任何内容。</b>详情已记录在服务器日志中。</div>',
                    gr.update())
        note = self._update_index(diffs, progress)
        progress(1.0, desc="完成")
        return diff_summary_html(diffs, note), self.state.corpus_stats()

    def _update_index(self, diffs, progress) -> str:
        """Rebuild the index after an import and swap the new assistant in; the note says what happened."""
        if all(d.is_noop for d in diffs):
            return "内容与现有法条库一致，索引无需更新。"
        if self.state.reindex is None:
            return "法条已写入法条库；本服务未配置索引更新，请运行 assistant index update 后重启。"
        progress(0.3, desc="更新检索索引（只重新计算新增或修改的条文）")
        started = time.perf_counter()
        try:
            new_assistant = self.state.reindex(self.state.store, self.state.holder.current)
        except Exception:
            log.exception("index update failed")
            return ("法条已写入法条库，但索引更新失败（详情已记录在服务器日志中）。聊天继续使用原索引；"
                    "可运行 assistant index update 重试。")
        self.state.holder.swap(new_assistant)
        return f"检索索引已更新并启用（{time.perf_counter() - started:.1f} 秒），新的提问将使用新条文。"

    def refresh_law_lists(self):
        choices = self.state.law_choices()
        return gr.update(choices=choices), gr.update(choices=choices[1:])

    # -- browse and look up --------------------------------------------------------------------------------
    def browse(self, law, authed):
        self.require_admin(authed)
        if not law:
            return '<div class="admin-hint">选择一部法律查看其条文。</div>', []
        return law_info_html(self.state.store, law), law_articles_rows(self.state.store, law)

    def browse_select(self, law, authed, evt: gr.SelectData):
        self.require_admin(authed)
        if not law or evt is None or evt.index is None:
            return gr.update()
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        arts = list(self.state.store.articles(law))
        if not 0 <= row < len(arts):
            return gr.update()
        return render.article_card(arts[row], open_=True)

    def lookup(self, reference: str, authed):
        self.require_admin(authed)
        return lookup_citation(self.state.store, reference)

    # -- layout and events ---------------------------------------------------------------------------------
    def build(self, chat) -> "StatutesTab":
        """The tab (call inside ``gr.Tabs``); ``chat``: the chat tab, whose law filter and corpus line an
        import updates."""
        auth_required = self.state.config.auth_required
        with gr.Tab("法规管理", id="statutes"):
            self.authed = gr.State(not auth_required)
            with gr.Column(visible=auth_required, elem_id="login-gate") as self.gate:
                self._login_form()
            with gr.Column(visible=not auth_required, elem_id="admin-panel") as self.panel:
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2):
                        self._upload_form()
                    with gr.Column(scale=3):
                        self.result = gr.HTML('<div class="admin-hint">上传文件后点击“解析预览”。</div>',
                                              elem_id="admin-result")
                gr.Markdown("### 浏览与查找")
                self._browser()
        self._wire(chat)
        return self

    def _login_form(self) -> None:
        gr.Markdown("### 管理员登录\n法规管理需要登录：`ASSISTANT_ADMIN_USER` / `ASSISTANT_ADMIN_PASSWORD`，"
                    "或服务器启动时打印的管理员令牌（填入密码框，用户名可留空）。")
        self.user = gr.Textbox(label="用户名", elem_id="admin-user")
        self.password = gr.Textbox(label="密码", type="password", elem_id="admin-password")
        self.login_btn = gr.Button("登录", variant="primary", elem_id="admin-login")
        self.login_msg = gr.Markdown("")

    def _upload_form(self) -> None:
        config = self.state.config
        gr.Markdown("### 上传法规文件\n支持 " + " / ".join(UPLOAD_TYPES)
                    + f"，每个文件不超过 {config.max_upload_mb:g} MB。先预览，确认后导入。")
        self.files = gr.File(file_count="multiple", file_types=list(UPLOAD_TYPES), label="法规文件",
                             elem_id="statute-files")
        self.status = gr.Dropdown(STATUS_CHOICES, value="现行有效", label="导入后的效力状态")
        self.confirm_removal = gr.Checkbox(False, label="确认删除上列条文（导入将删除现有法律的大部分条文时需要）",
                                           elem_id="confirm-removal")
        with gr.Row():
            self.preview_btn = gr.Button("解析预览", elem_id="preview-btn")
            self.import_btn = gr.Button("导入并更新索引", variant="primary", elem_id="import-btn")
        self.logout_btn = gr.Button("退出登录", size="sm", variant="secondary") if config.auth_required else None

    def _browser(self) -> None:
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                self.browse_law = gr.Dropdown(self.state.law_choices()[1:], value=None, label="法律", filterable=True,
                                              elem_id="browse-law")
                self.law_info = gr.HTML("")
                self.articles_table = gr.Dataframe(headers=["条号", "编 / 章 / 节", "状态", "条文"], value=[],
                                                   interactive=False, wrap=True, max_height=420,
                                                   elem_id="articles-table")
            with gr.Column(scale=2):
                with gr.Row(equal_height=True):
                    self.reference = gr.Textbox(placeholder="民法典第1043条 / 刑法133条之一", show_label=False,
                                                scale=4, elem_id="lookup-ref")
                    self.lookup_btn = gr.Button("按引用查找", scale=1, elem_id="lookup-btn")
                self.article_view = gr.HTML('<div class="admin-hint">点击左侧表格中的条文，或按引用查找。</div>',
                                            elem_id="article-view")

    def _wire(self, chat) -> None:
        login_outputs = [self.authed, self.gate, self.panel, self.login_msg, self.password]
        self.login_btn.click(self.login, [self.user, self.password, self.authed], login_outputs,
                             api_name="admin_login", concurrency_limit=4)
        # Enter in the password box clicks the button in the browser: no second login handler on the server
        self.password.submit(None, None, None, js="() => document.querySelector('#admin-login')?.click()",
                             api_visibility="private")
        if self.logout_btn is not None:
            self.logout_btn.click(self.logout, None, [self.authed, self.gate, self.panel, self.login_msg],
                                  api_visibility="private")
        admin_kw = dict(concurrency_id="admin", concurrency_limit=1)
        self.preview_btn.click(self.preview, [self.files, self.status, self.authed], self.result,
                               api_name="preview_statutes", **admin_kw)
        # the law lists are refreshed by a private step: as outputs of the public endpoint they would put
        # every law's name (twice) into its API description
        self.import_btn.click(self.do_import, [self.files, self.status, self.confirm_removal, self.authed],
                              [self.result, chat.corpus_stats], api_name="import_statutes", **admin_kw) \
            .then(self.refresh_law_lists, None, [chat.law_filter, self.browse_law], api_visibility="private")
        self.browse_law.change(self.browse, [self.browse_law, self.authed], [self.law_info, self.articles_table],
                               api_visibility="private")
        self.articles_table.select(self.browse_select, [self.browse_law, self.authed], self.article_view,
                                   api_visibility="private")
        self.reference.submit(self.lookup, [self.reference, self.authed], self.article_view, api_visibility="private")
        self.lookup_btn.click(self.lookup, [self.reference, self.authed], self.article_view,
                              api_name="lookup_citation")
