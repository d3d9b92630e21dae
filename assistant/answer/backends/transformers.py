"""A local Hugging Face causal LM (ChatGLM2 with trust_remote_code, GLM-4, Qwen, the tiny test model ...),
optionally with a PEFT / P-Tuning v2 adapter, streamed through ``TextIteratorStreamer``. Greedy by default.

``dtype="auto"`` (the default, ``--dtype`` on the command line) runs the weights in bf16 on a CPU with
AVX512-BF16/AMX - faster than fp32 there (scripts/bench_dtype.py) - and in fp32 on other CPUs; ``bf16`` / ``fp32``
force one."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from assistant.answer.backends.base import Backend, BackendError, GenerationRequest
from assistant.answer.prompt import render_prompt
from assistant.models.loader import load_causal_lm


def _adapter_prompt_style(adapter: Path) -> str:
    import json

    try:
        return json.loads((adapter / "prompt_style.json").read_text(encoding="utf-8")).get("prompt_style", "full")
    except (OSError, ValueError, AttributeError):
        return "full"


class TransformersBackend(Backend):
    name = "transformers"
    short_context = True  # local models on a CPU are small: the few best 款, answer first
    writes_from_draft = True  # an untuned model rewrites the extractive draft; an adapter does not (below)

    def __init__(self, model_path: str | Path, adapter: str | Path | None = None, *, device: str | None = None,
                 dtype="auto", template: str = "auto", max_new_tokens: int | None = None, **_ignored):
        path = Path(model_path)
        if not path.is_dir():
            raise BackendError(f"model folder {path} does not exist (the transformers backend loads local "
                               f"folders only; nothing is downloaded)")
        if adapter is not None and not Path(adapter).exists():
            raise BackendError(f"adapter {adapter} does not exist")
        from assistant.threads import limit_torch_threads

        limit_torch_threads()
        try:
            self.model, self.tokenizer = load_causal_lm(str(path), str(adapter) if adapter else None,
                                                        device=device, dtype=dtype)
        except BackendError:
            raise
        except Exception as exc:  # a folder that is not a model, a broken adapter ...
            raise BackendError(f"cannot load model {path}"
                               + (f" with adapter {adapter}" if adapter else "") + f": {exc}") from exc
        self.path = path
        self.adapter = Path(adapter) if adapter else None
        if self.adapter is not None:
            # serve an adapter the prompt it was trained on: `assistant train sft` records it
            # (prompt_style.json); the question-set file teaches the small-model prompt (best 款,
            # SHORT_INSTRUCTION), corpus-generated rows and adapters without the record the full one
            self.short_context = _adapter_prompt_style(self.adapter) == "short"
            self.writes_from_draft = False
        self.dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        self.template = template
        self.default_max_new_tokens = max_new_tokens
        self._lock = threading.Lock()  # one generation at a time per loaded model

    @property
    def model_name(self) -> str:
        return self.path.name + (f"+{self.adapter.name}" if self.adapter else "")

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def max_length(self) -> int:
        cfg = getattr(self.model, "config", None)
        for attr in ("max_position_embeddings", "seq_length", "max_sequence_length", "n_positions"):
            value = getattr(cfg, attr, None)
            if isinstance(value, int) and value > 0:
                return value
        return 2048

    def context_budget(self, default: int, max_new_tokens: int) -> int:
        # room for the instruction, the question and the answer
        return max(64, min(default, self.max_length() - max_new_tokens - 256))

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        import torch
        from transformers import TextIteratorStreamer

        prompt = render_prompt(request.messages, self.tokenizer, self.template)
        max_new = self.default_max_new_tokens or request.max_new_tokens
        enc = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=True)
        input_ids = enc["input_ids"]
        limit = self.max_length() - max_new
        if input_ids.shape[1] > limit:  # keep the end: the question and the 答： cue
            input_ids = input_ids[:, -limit:]
        attention_mask = torch.ones_like(input_ids)
        device = getattr(self.model, "device", None)
        if device is not None:
            input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        sample = bool(request.temperature and request.temperature > 0)
        kwargs = dict(input_ids=input_ids, attention_mask=attention_mask, max_new_tokens=max_new,
                      do_sample=sample, streamer=streamer,
                      pad_token_id=self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None
                      else self.tokenizer.eos_token_id)
        if sample:
            kwargs.update(temperature=float(request.temperature), top_p=0.9)
        else:  # explicit greedy; silence sampling defaults a generation_config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        result: dict = {}

        def run() -> None:
            try:
                with torch.inference_mode():
                    result["ids"] = self.model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                result["error"] = exc
                streamer.end()

        with self._lock:
            worker = threading.Thread(target=run, name="generate", daemon=True)
            worker.start()
            try:
                for delta in streamer:
                    if delta:
                        yield delta
            finally:
                worker.join()
        if "error" in result:
            raise BackendError(f"generation failed: {result['error']}") from result["error"]
        new = result["ids"][0, input_ids.shape[1]:]
        request.generated_tokens = int(new.shape[0])
        eos = self.model.generation_config.eos_token_id if getattr(self.model, "generation_config", None) else None
        eos_ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        if self.tokenizer.eos_token_id is not None:
            eos_ids.add(self.tokenizer.eos_token_id)
        ended = bool(new.shape[0]) and int(new[-1]) in eos_ids
        request.finish_reason = "length" if (new.shape[0] >= max_new and not ended) else "stop"

    def info(self) -> dict:
        return dict(super().info(), path=str(self.path), adapter=str(self.adapter) if self.adapter else None,
                    dtype=self.dtype)
