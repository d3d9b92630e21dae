"""The web app's programmatic endpoints, ``/chat`` (streams the answer text) and ``/ask`` (the full answer
as JSON), for ``gradio_client``; checked by the same validator as the chat tab and the OpenAI-style API."""
# no ``from __future__ import annotations``: Gradio builds the endpoints' API description from the hints
import gradio as gr

from assistant.answer.limits import OptionError
from assistant.webui.state import AppState


class ChatEndpoints:
    def __init__(self, state: AppState):
        self.state = state

    def _request(self, message, history, top_k, law, include_repealed):
        try:
            return self.state.check_request(message, history, top_k, law, include_repealed)
        except OptionError as exc:
            raise gr.Error(exc.zh) from None

    def chat(self, message: str, history: list[list[str]] | None = None, top_k: int = 5, law: str = "",
             include_repealed: bool = False) -> str:
        """Answer a question from the statutes. Streams the answer text as it grows; the last value is the
        final answer (with any notice the pipeline appended). ``history``: earlier [question, answer] pairs."""
        message, history, options = self._request(message, history, top_k, law, include_repealed)
        text = ""
        for event in self.state.holder.current.stream(message, history=history or None, **options):
            if event.kind == "token":
                text += event.text
                yield text
            elif event.kind == "done":
                yield event.answer.text

    def ask(self, message: str, history: list[list[str]] | None = None, top_k: int = 5, law: str = "",
            include_repealed: bool = False) -> dict:
        """The full answer as JSON: text, sources (with [n] markers), citation report, notice, latency."""
        message, history, options = self._request(message, history, top_k, law, include_repealed)
        return self.state.holder.current.ask(message, history=history or None, **options).to_dict()

    def register(self) -> None:
        """Call inside the ``gr.Blocks`` context."""
        limit = self.state.config.concurrency
        gr.api(self.chat, api_name="chat", concurrency_id="chat", concurrency_limit=limit)
        gr.api(self.ask, api_name="ask", concurrency_id="chat", concurrency_limit=limit)
