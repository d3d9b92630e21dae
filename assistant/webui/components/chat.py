"""The chat tab (咨询): the conversation with its source panel, the question box, examples, export and the
settings accordion; its handlers stream answers from whichever assistant the state holds now."""
# no ``from __future__ import annotations``: Gradio reads handler annotations at run time
import datetime as _dt
import logging
import tempfile
import time
from pathlib import Path

import gradio as gr

from assistant.answer.limits import RANGES, OptionError
from assistant.webui import render
from assistant.webui.assets import CONVERSATION_JS, SOURCES_JS
from assistant.webui.export import conversation_json, conversation_markdown
from assistant.webui.render import Turn
from assistant.webui.state import ALL_LAWS, AppState, assistant_info

log = logging.getLogger(__name__)

#: minimum seconds between two re-renders of a streaming answer (each re-render ships the whole conversation)
STREAM_RENDER_INTERVAL = 0.06


def history_pairs(turns: list[Turn]) -> list[tuple[str, str]]:
    return [(t.question, t.answer.text if t.answer is not None else t.text)
            for t in turns if t.done and not t.error]


class ChatTab:
    def __init__(self, state: AppState):
        self.state = state

    # -- handlers ------------------------------------------------------------------------------------------
    def respond(self, message, turns, top_k, law, include_repealed, temperature):
        turns = list(turns or [])
        for t in turns:  # a turn whose stream was stopped by the user
            if not t.done:
                t.error = "已停止"
        try:
            message, _, options = self.state.check_request(message, None, top_k, law, include_repealed, temperature)
        except OptionError as exc:
            gr.Warning(exc.zh)
            yield gr.update(), gr.update(), turns, gr.update()
            return
        history = history_pairs(turns)
        turn = Turn(message)
        turns.append(turn)
        yield render.conversation_html(turns), render.source_panel_html(turns), turns, ""
        last = 0.0
        try:
            for event in self.state.holder.current.stream(message, history=history, **options):
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

    def clear(self):
        return (render.conversation_html([], welcome=self.state.welcome_html()), render.source_panel_html([]), [],
                gr.update(visible=False))

    def export(self, turns, kind: str):
        turns = [t for t in (turns or []) if t.done]
        if not turns:
            raise gr.Error("还没有可导出的对话。")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(tempfile.mkdtemp(prefix="assistant-export-")) / f"法律助手对话-{stamp}.{kind}"
        write = conversation_markdown if kind == "md" else conversation_json
        path.write_text(write(turns, assistant_info(self.state.holder.current)), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def export_markdown(self, turns):
        return self.export(turns, "md")

    def export_json(self, turns):
        return self.export(turns, "json")

    # -- layout and events ---------------------------------------------------------------------------------
    def build(self) -> "ChatTab":
        """The tab's components (attributes of this object) and their events; call inside ``gr.Tabs``."""
        info = self.state.info
        with gr.Tab("咨询", id="chat"):
            gr.HTML(render.banner_html(info), elem_id="mode-banner")
            self.turns = gr.State([])
            with gr.Row(equal_height=False):
                with gr.Column(scale=7):
                    self._conversation_column()
                with gr.Column(scale=5):
                    self._sources_column()
        self._wire()
        return self

    def _conversation_column(self) -> None:
        config = self.state.config
        self.conversation = gr.HTML(render.conversation_html([], welcome=self.state.welcome_html()),
                                    elem_id="conversation", js_on_load=CONVERSATION_JS, autoscroll=True)
        with gr.Row(equal_height=True):
            self.message = gr.Textbox(placeholder="输入法律问题，例如：醉驾怎么处罚？（Enter 发送，可连续追问）",
                                      show_label=False, lines=1, max_lines=6, scale=8, elem_id="question",
                                      autofocus=True)
            self.send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="send")
            self.stop = gr.Button("停止", variant="stop", scale=1, min_width=70, elem_id="stop")
        with gr.Row(elem_id="examples"):
            gr.HTML('<span class="example-label">试试：</span>', elem_classes=["example-label"])
            self.example_buttons = [gr.Button(q, size="sm", variant="secondary", elem_classes=["example-q"])
                                    for q in config.examples]
        with gr.Row(elem_id="chat-tools"):
            self.clear_btn = gr.Button("新对话", size="sm", variant="secondary", elem_id="clear")
            self.export_md = gr.Button("导出 Markdown", size="sm", variant="secondary", elem_id="export-md")
            self.export_json_btn = gr.Button("导出 JSON", size="sm", variant="secondary", elem_id="export-json")
        self.export_file = gr.File(label="导出文件", visible=False, interactive=False, elem_id="export-file")

    def _sources_column(self) -> None:
        config, info, generative = self.state.config, self.state.info, self.state.generative
        gr.Markdown("#### 来源条文")
        self.sources = gr.HTML(render.source_panel_html([]), elem_id="source-panel", js_on_load=SOURCES_JS)
        with gr.Accordion("设置", open=False, elem_id="settings"):
            gr.Textbox(value=render.backend_label(info), label="回答方式（由服务器配置，只读）", interactive=False)
            self.top_k = gr.Slider(RANGES["top_k"][0], RANGES["top_k"][1], value=config.default_top_k, step=1,
                                   label="检索条文数 (top-k)")
            self.law_filter = gr.Dropdown(self.state.law_choices(), value=ALL_LAWS, label="限定法律",
                                          filterable=True, elem_id="law-filter")
            self.include_repealed = gr.Checkbox(False, label="包括已废止 / 历史版本的法律")
            self.temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.1, interactive=generative,
                                         label="温度 (0 = 确定性输出)" + ("" if generative else "：摘录模式不适用"))
            self.corpus_stats = gr.Markdown(self.state.corpus_stats(), elem_id="corpus-stats")

    def _wire(self) -> None:
        inputs = [self.message, self.turns, self.top_k, self.law_filter, self.include_repealed, self.temperature]
        outputs = [self.conversation, self.sources, self.turns, self.message]
        kw = dict(api_visibility="private", concurrency_id="chat", concurrency_limit=self.state.config.concurrency,
                  show_progress="hidden")
        runs = [self.message.submit(self.respond, inputs, outputs, **kw), self.send.click(self.respond, inputs,
                                                                                          outputs, **kw)]
        for button, question in zip(self.example_buttons, self.state.config.examples):
            runs.append(button.click(lambda q=question: q, None, self.message, api_visibility="private", queue=False)
                        .then(self.respond, inputs, outputs, **kw))
        self.stop.click(None, None, None, cancels=runs, api_visibility="private")
        self.clear_btn.click(self.clear, None, [self.conversation, self.sources, self.turns, self.export_file],
                             api_visibility="private", cancels=runs)
        self.export_md.click(self.export_markdown, self.turns, self.export_file, api_visibility="private")
        self.export_json_btn.click(self.export_json, self.turns, self.export_file, api_visibility="private")
