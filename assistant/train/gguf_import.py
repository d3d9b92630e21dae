"""``assistant model import-gguf FILE.gguf --out DIR``: a GGUF model (llama.cpp's format, e.g. a Q4_K_M
Qwen2.5 chat model) as a plain Hugging Face folder - bf16 safetensors weights, the tokenizer and its chat
template - that training (``assistant train pt|sft``) and the transformers answer backend load.

transformers reads GGUF itself (``from_pretrained(dir, gguf_file=...)``, which needs the ``gguf``
package) and dequantises every tensor. The model it returns is marked as GGUF-quantised and refuses
``save_pretrained``, so the dequantised weights are copied into a fresh model built from the same config
(without the quantisation entry) and that one is saved. Quantisation is lossy: the folder reproduces the
GGUF's numbers, not the original unquantised checkpoint's.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


class GGUFImportError(ValueError):
    """A GGUF file that cannot be imported; the message names the file and the reason."""


def _require_gguf() -> None:
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise GGUFImportError("reading GGUF files needs the gguf package: pip install 'assistant[gguf]' "
                              "(or pip install 'gguf>=0.10')")


def _dequantize_kwargs(name: str) -> dict:
    """Ask for plain tensors: newer transformers keep GGUF blocks packed when GGUF kernels are installed."""
    try:
        from transformers.utils.quantization_config import GgufConfig
    except ImportError:  # older transformers always dequantise
        return {}
    return {"quantization_config": GgufConfig(gguf_file=name, dequantize=True)}


def import_gguf(gguf_file, out_dir, dtype: str = "bf16") -> dict:
    """Convert ``gguf_file`` into a Hugging Face folder ``out_dir``; returns a summary dict."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.threads import limit_torch_threads
    from assistant.models.loader import resolve_dtype

    limit_torch_threads()
    src = Path(gguf_file)
    if not src.is_file():
        raise GGUFImportError(f"{src}: no such file")
    with src.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise GGUFImportError(f"{src}: not a GGUF file (it does not start with the GGUF magic bytes)")
    _require_gguf()
    torch_dtype = resolve_dtype(dtype, "cpu")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise GGUFImportError(f"{out} exists and is not empty; choose a new --out folder")
    start = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name)
        loaded = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch_dtype,
                                                      **_dequantize_kwargs(src.name))
    except (ValueError, KeyError, RuntimeError) as exc:  # unsupported architecture / tensor type
        raise GGUFImportError(f"{src}: transformers cannot read this GGUF: {exc}") from exc
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    # a plain model of the same architecture, filled with the dequantised tensors (see module docstring)
    model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    state = {k: v.to(torch_dtype) for k, v in loaded.state_dict().items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
        missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise GGUFImportError(f"{src}: the dequantised weights do not match the architecture "
                              f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    del loaded, state
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    if model.generation_config is not None:
        model.generation_config.save_pretrained(str(out))
    info = {
        "source": str(src), "out": str(out), "model_type": config.model_type,
        "architecture": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(torch_dtype).replace("torch.", ""), "vocab_size": len(tokenizer),
        "chat_template": bool(getattr(tokenizer, "chat_template", None)),
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "gguf_import.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    return info
