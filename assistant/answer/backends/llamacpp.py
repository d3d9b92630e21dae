"""A local GGUF model through llama.cpp (``pip install -e ".[llamacpp]"``): Qwen2.5, GLM-4, Llama ...

The prompt is rendered by the model's own chat template (from the GGUF metadata, via llama-cpp-python's
``create_chat_completion``), streamed token by token. Context size and threads are set deliberately:
``n_ctx`` defaults to 4096 (enough for the short context of a few 款 plus the answer; the model's trained
context is often 32k, which would reserve far more memory than a CPU machine should), ``n_threads`` to
``ASSISTANT_THREADS`` (1 by default: on a small shared machine one busy thread per process is fastest).
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator

from assistant.answer.backends.base import Backend, BackendError, GenerationRequest, chat_chunk_deltas

DEFAULT_N_CTX = 4096


def default_threads() -> int:
    try:
        return max(1, int(os.environ.get("ASSISTANT_THREADS", "1")))
    except ValueError:
        return 1


class LlamaCppBackend(Backend):
    name = "llamacpp"
    #: small models get the few best 款, not whole articles
    short_context = True
    #: a GGUF is taken as a general instruct model (an adapter is merged in before conversion and not
    #: recorded): it writes from the extractive draft unless ``--no-draft``
    writes_from_draft = True

    def __init__(self, model_path: str | Path, *, n_ctx: int | None = None, n_threads: int | None = None,
                 seed: int = 0, chat_format: str | None = None, verbose: bool = False, llama=None, **_ignored):
        path = Path(model_path)
        if llama is None:
            if not path.is_file():
                raise BackendError(f"GGUF model file {path} does not exist")
            try:
                from llama_cpp import Llama
            except ImportError as exc:
                raise BackendError("the llamacpp backend needs llama-cpp-python: pip install -e \".[llamacpp]\"") \
                    from exc
            self.n_ctx = int(n_ctx or os.environ.get("ASSISTANT_N_CTX", DEFAULT_N_CTX))
            self.n_threads = n_threads or default_threads()
            try:
                llama = Llama(model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads,
                              n_threads_batch=self.n_threads, seed=seed, chat_format=chat_format, verbose=verbose)
            except Exception as exc:  # not a GGUF file, unsupported architecture ...
                raise BackendError(f"cannot load GGUF model {path}: {exc}") from exc
        else:  # an already loaded model (tests, or a caller sharing one)
            self.n_ctx = int(llama.n_ctx())
            self.n_threads = n_threads or default_threads()
        self.llama = llama
        self.path = path
        self._lock = threading.Lock()  # one generation at a time per loaded model

    @property
    def model_name(self) -> str:
        return self.path.name

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def context_budget(self, default: int, max_new_tokens: int) -> int:
        # room for the instruction, the question and the answer
        return max(64, min(default, self.n_ctx - max_new_tokens - 320))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        sample = bool(request.temperature and request.temperature > 0)
        kwargs = dict(messages=request.messages, max_tokens=request.max_new_tokens, stream=True,
                      temperature=float(request.temperature) if sample else 0.0, top_p=0.9 if sample else 1.0,
                      top_k=40 if sample else 1, repeat_penalty=1.05)
        request.finish_reason = "stop"
        with self._lock:
            try:
                chunks = self.llama.create_chat_completion(**kwargs)
                for chunk in chunks:
                    yield from chat_chunk_deltas(chunk, request)
            except ValueError as exc:  # llama.cpp: the prompt does not fit the context
                raise BackendError(f"llama.cpp: {exc}") from exc

    def info(self) -> dict:
        return dict(super().info(), path=str(self.path), n_ctx=self.n_ctx, n_threads=self.n_threads)

    def close(self) -> None:
        close = getattr(self.llama, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                pass
