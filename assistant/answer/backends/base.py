"""The backend interface: ``stream(request)`` yields text deltas; the request records how it finished."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from assistant.search.types import Hit


class BackendError(RuntimeError):
    """A backend that cannot be set up or reached (bad model path, endpoint down ...)."""


@dataclass
class GenerationRequest:
    question: str
    hits: list[Hit]  # the articles in the prompt's context, in [n] order
    messages: list[dict]  # system, earlier turns, the user turn with the context block
    history: list[tuple[str, str]] = field(default_factory=list)
    max_new_tokens: int = 512
    temperature: float | None = None  # None / 0: greedy
    #: set by the backend: "stop" (EOS / natural end), "length" (cut off at max_new_tokens) or, extractive only,
    #: "no_answer" (nothing could be quoted)
    finish_reason: str = "stop"
    generated_tokens: int = 0
    #: the pipeline's clause selection (assistant.answer.select.Selection): the 款 that answer, with facts
    selection: Any = None
    #: the question as read once (assistant.search.query.Query); None when a caller built the request itself
    query: Any = None


class Backend(ABC):
    name = "base"
    #: a line shown to the user with every answer (e.g. that no generative model is configured)
    notice: str | None = None
    #: give the model the few best 款 and an answer-first instruction (small local models)
    short_context: bool = False
    #: an untuned general model: give it the extractive answer's lead as a draft to rewrite in plain words
    #: (``PipelineConfig.draft`` decides when set); a tuned adapter keeps the prompt it was trained on
    writes_from_draft: bool = False

    @property
    def model_name(self) -> str | None:
        return None

    def count_tokens(self, text: str) -> int:
        """Prompt budget accounting; one token per character is a safe upper bound for Chinese."""
        return len(text)

    def context_budget(self, default: int, max_new_tokens: int) -> int:
        return default

    @abstractmethod
    def stream(self, request: GenerationRequest) -> Iterator[str]:
        ...

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_name, "notice": self.notice}

    def close(self) -> None:
        pass


def chat_chunk_deltas(chunk: dict, request: GenerationRequest) -> Iterator[str]:
    """The text pieces of one OpenAI-style streaming chunk — llama.cpp's ``create_chat_completion`` and
    OpenAI-compatible servers emit the same shape — counting them and noting the finish reason on ``request``."""
    for choice in chunk.get("choices") or []:
        delta = (choice.get("delta") or {}).get("content")
        if delta:
            request.generated_tokens += 1
            yield delta
        if choice.get("finish_reason"):
            request.finish_reason = "length" if choice["finish_reason"] == "length" else "stop"


def make_backend(name: str = "extractive", model: str | None = None, adapter: str | None = None,
                 **options: Any) -> Backend:
    if name == "extractive" and model and str(model).lower().endswith(".gguf"):
        name = "llamacpp"  # a GGUF file names its runtime
    if name == "extractive":
        from assistant.answer.backends.extractive import ExtractiveBackend

        return ExtractiveBackend(**options)
    if name == "llamacpp":
        from assistant.answer.backends.llamacpp import LlamaCppBackend

        if not model:
            raise BackendError("the llamacpp backend needs --model FILE.gguf")
        if adapter:
            raise BackendError("--adapter applies to the transformers backend only (merge it into the GGUF)")
        return LlamaCppBackend(model, **options)
    if name == "transformers":
        from assistant.answer.backends.transformers import TransformersBackend

        if not model:
            raise BackendError("the transformers backend needs --model PATH (a local Hugging Face model folder)")
        return TransformersBackend(model, adapter=adapter, **options)
    if name == "openai":
        from assistant.answer.backends.openai import OpenAIBackend

        if adapter:
            raise BackendError("--adapter applies to the transformers backend only")
        return OpenAIBackend(model=model, **options)
    raise BackendError(f"unknown backend {name!r} (choose extractive, llamacpp, transformers or openai)")


def rewriter_for(backend: Backend, **options: Any):
    """A ``QueryRewriter`` (``assistant.search.rewrite``) asking ``backend`` - the model already loaded for
    answering, or one loaded for this - greedily for the statute wording of each question."""
    from assistant.search.rewrite import QueryRewriter

    if backend.name == "extractive":
        raise BackendError("the question rewrite needs a generative model (--model FILE.gguf, a model folder "
                           "or an OpenAI-compatible endpoint); the extractive backend has none")

    def complete(messages: list[dict], max_new_tokens: int) -> str:
        request = GenerationRequest(question=messages[-1]["content"], hits=[], messages=messages,
                                    max_new_tokens=max_new_tokens, temperature=0.0)
        return "".join(backend.stream(request))

    return QueryRewriter(complete, name=backend.model_name, **options)


def load_rewriter(model: str, threads: int | None = None):
    """A ``QueryRewriter`` over the model at ``model`` (a .gguf file runs on llama.cpp, a folder on
    transformers), for commands that load no answering model (``assistant eval retrieval``) or a rewrite by
    another model than the answering one."""
    from assistant.models.options import ModelOptions

    try:
        options = ModelOptions(model=model, threads=threads)
    except ValueError as exc:
        raise BackendError(str(exc)) from None
    if options.backend == "extractive":
        raise BackendError(f"--rewrite-model {model}: give a .gguf file or a local model folder")
    return rewriter_for(make_backend(**options.backend_kwargs()))


TokenCounter = Callable[[str], int]
