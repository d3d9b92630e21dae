"""Fold a LoRA adapter into its base model and save a plain Hugging Face folder (with the tokenizer)."""
from __future__ import annotations

from pathlib import Path


def merge_lora(model_path, adapter_path, out_dir, dtype=None) -> Path:
    from assistant.models.loader import AdapterError, adapter_kind, load_causal_lm

    kind = adapter_kind(adapter_path)
    if kind != "lora":
        raise AdapterError(f"{adapter_path} is a {kind} adapter; only LoRA folds into the weights "
                           "(prefix tuning stays an adapter: serve it with --adapter)")
    model, tokenizer = load_causal_lm(model_path, adapter_path, device="cpu", dtype=dtype or "fp32")
    merged = model.merge_and_unload()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
