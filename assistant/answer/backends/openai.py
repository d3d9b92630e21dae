"""Any OpenAI-compatible ``/v1/chat/completions`` endpoint (vLLM, Ollama, llama.cpp server, a hosted API,
or this project's own ``assistant api``), streamed over server-sent events with httpx.

Configuration: arguments, else ``OPENAI_BASE_URL`` (default http://127.0.0.1:8000/v1), ``OPENAI_API_KEY``,
``ASSISTANT_OPENAI_MODEL``.
"""
from __future__ import annotations

import json
import os
from typing import Iterator

from assistant.answer.backends.base import Backend, BackendError, GenerationRequest, chat_chunk_deltas

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


class OpenAIBackend(Backend):
    name = "openai"

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float = 120.0, extra_body: dict | None = None, **_ignored):
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.model = model or os.environ.get("ASSISTANT_OPENAI_MODEL")
        self.timeout = timeout
        self.extra_body = extra_body or {}
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self._client = httpx.Client(base_url=self.base_url, headers=headers,
                                    timeout=httpx.Timeout(timeout, connect=10.0))
        if not self.model:
            self.model = self._first_model()

    @property
    def model_name(self) -> str | None:
        return self.model

    def _first_model(self) -> str:
        import httpx

        try:
            resp = self._client.get("/models")
            resp.raise_for_status()
            data = resp.json().get("data") or []
        except (httpx.HTTPError, ValueError) as exc:
            raise BackendError(f"no model given (ASSISTANT_OPENAI_MODEL) and {self.base_url}/models failed: {exc}")
        if not data:
            raise BackendError(f"{self.base_url}/models lists no model; set ASSISTANT_OPENAI_MODEL")
        return data[0]["id"]

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        import httpx

        body = {"model": self.model, "messages": request.messages, "stream": True,
                "max_tokens": request.max_new_tokens,
                "temperature": float(request.temperature) if request.temperature else 0.0, **self.extra_body}
        request.finish_reason = "stop"
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise BackendError(f"{self.base_url}/chat/completions answered {resp.status_code}: "
                                       f"{resp.text[:300]}")
                for line in resp.iter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, event names
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        raise BackendError(f"malformed event from {self.base_url}: {data[:200]!r}") from None
                    if chunk.get("error"):
                        raise BackendError(f"{self.base_url} reported: {chunk['error']}")
                    yield from chat_chunk_deltas(chunk, request)
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach {self.base_url}: {exc}") from exc

    def info(self) -> dict:
        return dict(super().info(), base_url=self.base_url)

    def close(self) -> None:
        self._client.close()
