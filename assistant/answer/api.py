"""``assistant api``: an OpenAI-compatible HTTP server over the grounded pipeline.

``GET /v1/models`` and ``POST /v1/chat/completions`` (``stream`` true or false). The last user message is
the question, earlier user/assistant messages are the history (used for retrieval too). Every response
carries ``grounding``: the sources given to the model and the citation report. Optional request fields:
``top_k``, ``law``, ``include_repealed``.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from fastapi import FastAPI, HTTPException, Request  # module level: FastAPI resolves annotations by name
from fastapi.responses import JSONResponse, StreamingResponse

from assistant.answer.pipeline import GroundedAssistant


def grounding(answer) -> dict[str, Any]:
    d = answer.to_dict()
    return {k: d[k] for k in ("sources", "citations", "citation_summary", "clean", "notice", "backend", "model",
                              "latency_ms", "finish_reason")}


def _finish(reason: str) -> str:
    return "length" if reason == "length" else "stop"


def create_app(assistant: GroundedAssistant, model_id: str | None = None):
    model_id = model_id or f"grounded-{assistant.backend.name}" + (
        f"-{assistant.backend.model_name}" if assistant.backend.model_name else "")
    app = FastAPI(title="assistant", description="Grounded PRC-law assistant, OpenAI-compatible")
    # the pipeline's backends are not re-entrant (one model, one generation at a time)
    lock = threading.Lock()

    def parse(body: dict) -> tuple[str, list[dict], dict]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(400, "messages: a non-empty list of {role, content} is required")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                    or not isinstance(m.get("content", ""), str):
                raise HTTPException(400, f"messages[{i}]: needs role system|user|assistant and string content")
        if messages[-1]["role"] != "user" or not messages[-1].get("content", "").strip():
            raise HTTPException(400, "the last message must be a non-empty user message")
        history = [m for m in messages[:-1] if m["role"] in ("user", "assistant")]
        options: dict[str, Any] = {}
        if body.get("top_k") is not None:
            options["top_k"] = int(body["top_k"])
        if body.get("law"):
            options["law"] = str(body["law"])
        if body.get("include_repealed"):
            options["include_repealed"] = True
        if body.get("temperature") is not None:
            options["temperature"] = float(body["temperature"])
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if limit is not None:
            options["max_new_tokens"] = max(1, int(limit))
        return messages[-1]["content"], history, options

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": model_id, "object": "model", "created": 0,
                                            "owned_by": "assistant", "backend": assistant.backend.info()}]}

    @app.get("/health")
    def health():
        return {"status": "ok", **assistant.backend.info()}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "request body is not JSON")
        if not isinstance(body, dict):
            raise HTTPException(400, "request body must be a JSON object")
        question, history, options = parse(body)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        if not body.get("stream"):
            def run():
                with lock:
                    return assistant.ask(question, history, **options)
            from starlette.concurrency import run_in_threadpool

            try:
                answer = await run_in_threadpool(run)
            except ValueError as exc:
                raise HTTPException(400, str(exc))
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
            with lock:
                yield chunk({"role": "assistant", "content": ""})
                try:
                    for event in assistant.stream(question, history, **options):
                        if event.kind == "token" and event.text:
                            yield chunk({"content": event.text})
                        elif event.kind == "done":
                            yield chunk({}, _finish(event.answer.finish_reason), grounding=grounding(event.answer))
                except Exception as exc:  # headers are sent: report in-band, as OpenAI does
                    yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


def serve(assistant: GroundedAssistant, host: str = "127.0.0.1", port: int = 8000, model_id: str | None = None,
          log_level: str = "info") -> None:
    import uvicorn

    uvicorn.run(create_app(assistant, model_id), host=host, port=port, log_level=log_level)
