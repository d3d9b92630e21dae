"""The Gradio app: grounded streaming chat with a source panel and citation badges, and a statutes tab.

    app = create_app(assistant, store)      # dependencies passed in, so tests build it around any store
    launch(app, host="127.0.0.1", port=7860)

Layout: ``assistant.webui.components`` (one module per tab: ``chat``, ``statutes``; ``api`` for the
endpoints), state in ``assistant.webui.state``.

API (``gradio_client.Client(url)``):
  /chat  (message, history=None, top_k=5, law="", include_repealed=False) -> answer text; streams with .submit
  /ask   same arguments -> the full answer as JSON (sources, citation report, notice)
  /admin_login, /preview_statutes, /import_statutes, /lookup_citation: the statutes tab (login first when set)
"""
from assistant.webui import render
from assistant.webui.assets import CSS
from assistant.webui.config import WebConfig
from assistant.webui.state import AppState, Reindexer


def create_app(assistant, store, *, config: WebConfig | None = None, reindex: Reindexer | None = None):
    """Build the Blocks app around ``assistant`` (a ``GroundedAssistant``) and ``store`` (a writable
    ``ArticleStore`` for the statutes tab). ``reindex(store, assistant) -> assistant`` updates the index after
    an import; without it imports still land in the store and the page says the index was not updated.
    Each tab is a module of ``assistant.webui.components``; the state they share is an ``AppState``."""
    import gradio as gr

    from assistant.webui.components.api import ChatEndpoints
    from assistant.webui.components.chat import ChatTab
    from assistant.webui.components.statutes import StatutesTab

    state = AppState.create(assistant, store, config, reindex)
    with gr.Blocks(title=state.config.title) as app:
        gr.HTML(f'<div id="app-header"><h1>{render.esc(state.config.title)}</h1>'
                f'<span class="sub">依据现行法律条文作答 · 每处引用均经核查</span></div>')
        with gr.Tabs():
            chat = ChatTab(state).build()
            StatutesTab(state).build(chat)
        ChatEndpoints(state).register()
    app.queue(default_concurrency_limit=state.config.concurrency, max_size=state.config.max_queue)
    app.holder = state.holder  # for tests and the CLI: which assistant answers now
    app.web_config = state.config
    return app


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
