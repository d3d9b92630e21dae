"""``assistant api``: an OpenAI-compatible HTTP server over the grounded pipeline.

``GET /v1/models`` and ``POST /v1/chat/completions`` (``stream`` true or false). The last user message is
the question, earlier user/assistant messages are the history (used for retrieval too). Every response
carries ``grounding``: the sources given to the model and the citation report. Optional request fields:
``top_k``, ``law``, ``include_repealed``, ``as_of`` (YYYY-MM-DD: answer with the law in force that day;
today by default).

Every option is type-checked (422 naming the field) and clamped to its documented range
(``assistant.answer.limits.RANGES``, the web app's too). There
is no global lock: backends that cannot generate concurrently serialise themselves (the transformers backend
holds its own lock around ``generate`` only), so a slow request never holds up retrieval or checking of
another.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request  # module level: FastAPI resolves annotations by name
from fastapi.responses import JSONResponse, StreamingResponse

from assistant.answer.limits import OptionError, validate_history, validate_options, validate_question
from assistant.answer.pipeline import GroundedAssistant

log = logging.getLogger(__name__)

MAX_MESSAGES = 100
MAX_BODY_BYTES = 1_000_000


def parse_request(body: dict) -> tuple[str, list, dict]:
    """(question, history pairs, pipeline options) from a chat-completions body, checked by the validator the
    web app uses too (``assistant.answer.limits``); OptionError names the field as the body has it."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OptionError("messages", "a non-empty list of {role, content} is required")
    if len(messages) > MAX_MESSAGES:
        raise OptionError("messages", f"at most {MAX_MESSAGES} messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                or not isinstance(m.get("content", ""), str):
            raise OptionError(f"messages[{i}]", "needs role system|user|assistant and string content")
    if messages[-1]["role"] != "user" or not messages[-1].get("content", "").strip():
        raise OptionError("messages", "the last message must be a non-empty user message")
    question = validate_question(messages[-1]["content"], field=f"messages[{len(messages) - 1}].content")
    history = validate_history([m for m in messages[:-1] if m["role"] in ("user", "assistant")], field="messages")
    limit_field = "max_tokens" if body.get("max_tokens") is not None else "max_completion_tokens"
    options = validate_options({"top_k": body.get("top_k"), "law": body.get("law"),
                                "include_repealed": body.get("include_repealed"), "as_of": body.get("as_of"),
                                "temperature": body.get("temperature"), "max_new_tokens": body.get(limit_field)},
                               fields={"max_new_tokens": limit_field})
    stream = body.get("stream", False)
    if stream is not None and not isinstance(stream, bool):
        raise OptionError("stream", f"must be true or false, got {type(stream).__name__}")
    return question, history, options


def grounding(answer) -> dict[str, Any]:
    d = answer.to_dict()
    return {k: d[k] for k in ("sources", "citations", "citation_summary", "clean", "notice", "backend", "model",
                              "latency_ms", "finish_reason", "as_of", "version_note")}


def _finish(reason: str) -> str:
    return "length" if reason == "length" else "stop"


def create_app(assistant: GroundedAssistant, model_id: str | None = None):
    model_id = model_id or f"grounded-{assistant.backend.name}" + (
        f"-{assistant.backend.model_name}" if assistant.backend.model_name else "")
    app = FastAPI(title="assistant", description="Grounded PRC-law assistant, OpenAI-compatible")

    def parse(body: dict) -> tuple[str, list, dict]:
        try:
            return parse_request(body)
        except OptionError as exc:  # a malformed conversation is a 400 (as before); a bad option a 422
            status = 400 if exc.field.startswith("messages") else 422
            raise HTTPException(status, {"message": str(exc), "field": exc.field, "type": "invalid_request_error"})

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": model_id, "object": "model", "created": 0,
                                            "owned_by": "assistant", "backend": assistant.backend.info()}]}

    @app.get("/health")
    def health():
        return {"status": "ok", **assistant.backend.info()}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise HTTPException(413, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise HTTPException(400, "request body is not JSON")
        if not isinstance(body, dict):
            raise HTTPException(400, "request body must be a JSON object")
        question, history, options = parse(body)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        if not body.get("stream"):
            from starlette.concurrency import run_in_threadpool

            try:
                answer = await run_in_threadpool(assistant.ask, question, history, **options)
            except ValueError as exc:  # an unknown law, ... : the client's input
                raise HTTPException(400, str(exc))
            except Exception:
                log.exception("answering failed")
                raise HTTPException(500, "the answer could not be computed (the server log has the details)")
            return JSONResponse({
                "id": cid, "object": "chat.completion", "created": created, "model": model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.text},
                             "finish_reason": _finish(answer.finish_reason)}],
                "usage": {"prompt_tokens": 0, "completion_tokens": len(answer.text), "total_tokens": len(answer.text)},
                "grounding": grounding(answer)})

        def chunk(delta: dict, finish: str | None = None, **extra) -> str:
            obj = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model_id,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
            return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"

        def events():  # a sync generator: Starlette iterates it in a worker thread
            yield chunk({"role": "assistant", "content": ""})
            try:
                for event in assistant.stream(question, history, **options):
                    if event.kind == "token" and event.text:
                        yield chunk({"content": event.text})
                    elif event.kind == "done":
                        yield chunk({}, _finish(event.answer.finish_reason), grounding=grounding(event.answer))
            except ValueError as exc:  # headers are sent: report in-band, as OpenAI does
                yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'invalid_request_error'}})}\n\n"
            except Exception:
                log.exception("streaming an answer failed")
                msg = {"message": "the answer could not be computed (the server log has the details)",
                       "type": "server_error"}
                yield f"data: {json.dumps({'error': msg})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


def serve(assistant: GroundedAssistant, host: str = "127.0.0.1", port: int = 8000, model_id: str | None = None,
          log_level: str = "info") -> None:
    import uvicorn

    uvicorn.run(create_app(assistant, model_id), host=host, port=port, log_level=log_level)


class BackgroundServer:
    """The API served from a thread of this process, on a free loopback port by default (``port=0``): for
    notebooks, tests and benchmark scripts that talk to it over real HTTP. ``url`` ends in ``/v1``."""

    def __init__(self, assistant: GroundedAssistant, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning", start_timeout: float = 30.0):
        import socket
        import threading

        import uvicorn

        if port == 0:
            with socket.socket() as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
        self.port = port
        self.server = uvicorn.Server(uvicorn.Config(create_app(assistant), host=host, port=port,
                                                    log_level=log_level))
        self.thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the API server did not start on {host}:{port}")
            time.sleep(0.05)
        self.url = f"http://{host}:{port}/v1"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
