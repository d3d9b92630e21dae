"""Which model answers and how it generates: one definition of the backend, model, adapter, runtime and
generation options for every command that answers (``ask``, ``chat``, ``api``, ``serve``, ``eval qa``), so
they accept the same flags with the same meaning (as LLaMA-Factory's ``hparams`` do for its commands).

``--model`` alone picks its runtime: a ``.gguf`` file runs on llama.cpp, a folder on transformers.
Defaults come from the environment where set (``ASSISTANT_BACKEND``, ``ASSISTANT_MODEL``,
``ASSISTANT_ADAPTER``, ``ASSISTANT_DTYPE``).
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from typing import Any

BACKENDS = ("extractive", "llamacpp", "transformers", "openai")
DTYPES = ("auto", "bf16", "fp32")


@dataclass
class ModelOptions:
    backend: str = "extractive"
    model: str | None = None  # llamacpp: FILE.gguf; transformers: model folder; openai: model name
    adapter: str | None = None  # transformers: PEFT LoRA / prefix folder or ChatGLM2 P-Tuning checkpoint
    dtype: str = "auto"  # transformers weights: auto = bf16 on a CPU with AVX512-BF16/AMX, else fp32
    n_ctx: int | None = None  # llamacpp context size (None: the backend's default, env ASSISTANT_N_CTX)
    threads: int | None = None  # llamacpp threads (None: ASSISTANT_THREADS)
    base_url: str | None = None  # openai endpoint (None: $OPENAI_BASE_URL)
    api_key: str | None = None  # openai key (None: $OPENAI_API_KEY); never written to run files
    temperature: float | None = None  # None / 0: greedy
    max_new_tokens: int | None = None  # None: the pipeline's default
    draft: bool | None = None  # the extractive draft in the prompt (None: for untuned local models)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r} (choose {', '.join(BACKENDS)})")
        if self.dtype not in DTYPES:
            raise ValueError(f"unknown dtype {self.dtype!r} (choose {', '.join(DTYPES)})")
        if self.backend == "extractive" and self.model:
            # --model without --backend: a .gguf file runs on llama.cpp, a folder on transformers
            if str(self.model).lower().endswith(".gguf"):
                self.backend = "llamacpp"
            elif os.path.isdir(self.model):
                self.backend = "transformers"

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """The flags, with the environment's defaults."""
        env = os.environ.get
        parser.add_argument("--backend", choices=BACKENDS, default=env("ASSISTANT_BACKEND", "extractive"),
                            help="extractive (default, no model), llamacpp (a GGUF file; chosen for a .gguf "
                                 "--model), transformers (local model folder; chosen for a folder --model) or "
                                 "openai (any OpenAI-compatible endpoint); env ASSISTANT_BACKEND")
        parser.add_argument("--model", default=env("ASSISTANT_MODEL"),
                            help="llamacpp: FILE.gguf; transformers: model folder; openai: model name "
                                 "(env ASSISTANT_MODEL)")
        parser.add_argument("--adapter", default=env("ASSISTANT_ADAPTER"),
                            help="LoRA / P-Tuning v2 adapter folder for the transformers backend "
                                 "(env ASSISTANT_ADAPTER)")
        parser.add_argument("--dtype", choices=DTYPES, default=env("ASSISTANT_DTYPE", "auto"),
                            help="transformers backend weights: auto (default) = bf16 on a CPU with "
                                 "AVX512-BF16/AMX (faster than fp32 there), fp32 on other CPUs; env ASSISTANT_DTYPE")
        parser.add_argument("--n-ctx", type=int, default=None,
                            help="llamacpp: context size (default 4096, env ASSISTANT_N_CTX)")
        parser.add_argument("--threads", type=int, default=None,
                            help="llamacpp: threads (default ASSISTANT_THREADS, i.e. 1)")
        parser.add_argument("--base-url", help="openai backend: endpoint base URL (env OPENAI_BASE_URL)")
        parser.add_argument("--api-key", help="openai backend: API key (env OPENAI_API_KEY)")
        parser.add_argument("--temperature", type=float, default=None,
                            help="sampling temperature (default: greedy)")
        parser.add_argument("--max-new-tokens", type=int, default=None,
                            help="generation limit in tokens (default: the pipeline's, 512)")
        parser.add_argument("--draft", action=argparse.BooleanOptionalAction, default=None,
                            help="give the model the extractive answer's lead (the deciding 款, cited) as a draft "
                                 "to rewrite in plain words (default: on for llamacpp and for transformers without "
                                 "--adapter, whose adapter keeps the prompt it was trained on; off for openai)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "ModelOptions":
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if hasattr(args, f.name)})

    def backend_kwargs(self) -> dict[str, Any]:
        """``build_assistant`` / ``make_backend`` arguments: the backend, model, adapter and the runtime
        options that backend takes (the others are not passed, so they cannot be misapplied)."""
        out: dict[str, Any] = {"backend": self.backend, "model": self.model, "adapter": self.adapter}
        if self.backend == "openai":
            out.update(base_url=self.base_url, api_key=self.api_key)
        elif self.backend == "llamacpp":
            out.update(n_ctx=self.n_ctx, n_threads=self.threads)
        elif self.backend == "transformers":
            out.update(dtype=self.dtype)
        return out

    def generation(self) -> dict[str, Any]:
        """The generation options given (``PipelineConfig`` fields); unset ones keep the pipeline's defaults."""
        return {k: v for k, v in (("temperature", self.temperature), ("max_new_tokens", self.max_new_tokens),
                                  ("draft", self.draft)) if v is not None}

    def settings(self) -> dict[str, Any]:
        """What a run records (no secrets)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "api_key"}
