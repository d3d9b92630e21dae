"""Load a causal LM for inference: a plain Hugging Face folder, optionally with an adapter.

Adapters understood (``adapter_path``):

* a PEFT **LoRA** folder (``adapter_config.json`` with ``peft_type: LORA``) - wrapped with ``PeftModel``;
* a PEFT **prefix-tuning** folder (P-Tuning v2 on any architecture) - wrapped with ``PeftModel`` and given
  a working ``generate`` (see :func:`prefix_generate`: with transformers 5.x PEFT's own ``generate`` passes
  the prefix under the old ``past_key_values`` name next to the model's empty ``cache`` and the prefix is
  silently dropped, so the output equals the base model's);
* a **ChatGLM2 native P-Tuning** checkpoint as written by ChatGLM2's ``ptuning/main.py``: a folder with
  ``pytorch_model.bin`` (or ``model.safetensors``) holding ``transformer.prefix_encoder.embedding.weight``
  (and ``transformer.prefix_encoder.trunk.*`` with ``prefix_projection``). The base is loaded with
  ``trust_remote_code`` and ``config.pre_seq_len`` set from the checkpoint's first dimension, then only the
  prefix encoder's weights are loaded - the recipe of ChatGLM2's README. It needs ChatGLM2's remote code in
  the base folder, so tests cannot exercise it here.

``model_path`` may itself be a PEFT adapter folder; its ``base_model_name_or_path`` is then the base.
Device auto: CUDA if present. dtype: bf16 where the GPU supports it else fp16; on CPU ``"auto"`` = bf16
where the CPU has AVX512-BF16/AMX, else fp32 (``None`` = fp32 on CPU).
``quantize=4|8`` loads the base through bitsandbytes (GPU only). ``trust_remote_code=None`` means trust a
*local* folder's code only when its config declares ``auto_map`` (ChatGLM2 and friends need it).
"""
from __future__ import annotations

import json
import types
from pathlib import Path

# one bf16 decision for the whole product (AVX512-BF16 or AMX; without them bf16 is emulated, slower than fp32)
from assistant.search.embedders import cpu_supports_bf16

PREFIX_KEY = "transformer.prefix_encoder.embedding.weight"


class AdapterError(ValueError):
    """An adapter or model folder that cannot be loaded; the message says which and why."""


def resolve_device(device=None) -> str:
    import torch

    if device:
        return str(device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype=None, device: str = "cpu"):
    """torch dtype from None/'auto'/'bf16'/'fp16'/'fp32'/torch.dtype. On a GPU both None and 'auto' mean
    bf16 (fp16 where bf16 is unsupported). On a CPU 'auto' means bf16 where the CPU has AVX512-BF16/AMX
    (faster than fp32: scripts/bench_dtype.py) and fp32 elsewhere; None keeps fp32 (exact: merges, reload checks)."""
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"bf16": torch.bfloat16, "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16,
             "half": torch.float16, "fp32": torch.float32, "float32": torch.float32, "float": torch.float32}
    if dtype not in (None, "auto"):
        try:
            return names[str(dtype).lower()]
        except KeyError:
            raise AdapterError(f"unknown dtype {dtype!r} (use auto, bf16, fp16 or fp32)") from None
    if str(device).startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dtype == "auto" and cpu_supports_bf16():
        return torch.bfloat16
    return torch.float32


def training_precision(precision: str = "auto", device: str = "cpu") -> str:
    """'bf16' or 'fp32' (or 'fp16' when asked) for training: ``auto`` = bf16 where the hardware runs it
    natively (a bf16 GPU, or a CPU with AVX512-BF16/AMX), fp32 otherwise."""
    import torch

    precision = (precision or "auto").lower()
    if precision in ("bf16", "fp16", "fp32"):
        return precision
    if precision != "auto":
        raise AdapterError(f"unknown precision {precision!r} (use auto, bf16, fp16 or fp32)")
    if str(device).startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if cpu_supports_bf16() else "fp32"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AdapterError(f"{path}: {exc}") from exc


def _wants_remote_code(model_path: Path, trust_remote_code) -> bool:
    if trust_remote_code is not None:
        return bool(trust_remote_code)
    cfg = model_path / "config.json"
    return cfg.is_file() and "auto_map" in _read_json(cfg)


def adapter_kind(adapter_path) -> str:
    """'lora', 'prefix', 'prompt' (other PEFT prompt learning), 'chatglm2_ptuning' or raise AdapterError."""
    path = Path(adapter_path)
    if not path.exists():
        raise AdapterError(f"adapter {path} does not exist")
    cfg = path / "adapter_config.json"
    if cfg.is_file():
        peft_type = str(_read_json(cfg).get("peft_type", "")).upper()
        if peft_type == "LORA":
            return "lora"
        if peft_type == "PREFIX_TUNING":
            return "prefix"
        if peft_type in ("P_TUNING", "PROMPT_TUNING"):
            return "prompt"
        raise AdapterError(f"{cfg}: peft_type {peft_type!r} is not supported (LORA or PREFIX_TUNING)")
    if _chatglm2_prefix_state(path, probe=True) is not None:
        return "chatglm2_ptuning"
    raise AdapterError(f"{path} is neither a PEFT adapter (no adapter_config.json) nor a ChatGLM2 P-Tuning "
                       f"checkpoint (no {PREFIX_KEY} in pytorch_model.bin / model.safetensors)")


def _chatglm2_prefix_state(path: Path, probe: bool = False):
    """The prefix-encoder weights of a ChatGLM2 ptuning checkpoint, keys relative to ``prefix_encoder.``."""
    import torch

    candidates = [path] if path.is_file() else [path / "pytorch_model.bin", path / "model.safetensors"]
    for file in candidates:
        if not file.is_file():
            continue
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(file))
        else:
            state = torch.load(str(file), map_location="cpu", weights_only=True)
        if PREFIX_KEY in state:
            prefix = "transformer.prefix_encoder."
            return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if probe:
            return None
    return None


def _quantization_config(quantize, device: str, dtype):
    if not quantize:
        return None
    if int(quantize) not in (4, 8):
        raise AdapterError(f"quantize must be 4 or 8, got {quantize!r}")
    import importlib.util

    if not device.startswith("cuda"):
        raise AdapterError(f"{quantize}-bit loading needs a CUDA GPU (bitsandbytes); this run is on {device}. "
                           "Leave quantize unset to load in full precision.")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise AdapterError(f"{quantize}-bit loading needs the bitsandbytes package: pip install 'bitsandbytes>=0.43'")
    from transformers import BitsAndBytesConfig

    if int(quantize) == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=dtype, bnb_4bit_quant_type="nf4")


def load_causal_lm(model_path, adapter_path=None, device=None, dtype=None, *, quantize: int | None = None,
                   trust_remote_code: bool | None = None, for_training: bool = False):
    """(model, tokenizer) ready for ``generate``; model in eval mode unless ``for_training``."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from assistant.threads import limit_torch_threads

    limit_torch_threads()
    model_path = Path(model_path)
    if not model_path.exists():
        raise AdapterError(f"model {model_path} does not exist (only local folders are loaded)")
    # an adapter folder given as the model: its config names the base
    if adapter_path is None and (model_path / "adapter_config.json").is_file():
        base = _read_json(model_path / "adapter_config.json").get("base_model_name_or_path")
        if not base or not Path(base).exists():
            raise AdapterError(f"{model_path} is an adapter; its base model {base!r} is not a local folder - "
                               "pass the base with --model and this folder with --adapter")
        model_path, adapter_path = Path(base), model_path
    kind = adapter_kind(adapter_path) if adapter_path else None
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    remote = _wants_remote_code(model_path, trust_remote_code) or kind == "chatglm2_ptuning"

    tok_dir = adapter_path if adapter_path and (Path(adapter_path) / "tokenizer_config.json").is_file() else model_path
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), trust_remote_code=remote)

    load_kwargs: dict = {"dtype": torch_dtype, "trust_remote_code": remote}
    qconfig = _quantization_config(quantize, device, torch_dtype)
    if qconfig is not None:
        load_kwargs.update(quantization_config=qconfig, device_map={"": device})

    if kind == "chatglm2_ptuning":
        state = _chatglm2_prefix_state(Path(adapter_path))
        config = AutoConfig.from_pretrained(str(model_path), trust_remote_code=True)
        config.pre_seq_len = int(state["embedding.weight"].shape[0])
        config.prefix_projection = any(k.startswith("trunk.") for k in state)
        # ChatGLM2's remote code registers AutoModel; its ChatGLMForConditionalGeneration is the causal LM
        from transformers import AutoModel

        model = AutoModel.from_pretrained(str(model_path), config=config, **load_kwargs)
        encoder = getattr(getattr(model, "transformer", None), "prefix_encoder", None)
        if encoder is None:
            raise AdapterError(f"{model_path}: the model has no transformer.prefix_encoder; ChatGLM2 P-Tuning "
                               "checkpoints need ChatGLM2's own modelling code (trust_remote_code)")
        encoder.load_state_dict(state)
        encoder.float()  # the recipe keeps the prefix encoder in fp32 when the base is quantized/half
    else:
        model = AutoModelForCausalLM.from_pretrained(str(model_path), **load_kwargs)
        if kind in ("lora", "prefix", "prompt"):
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_path), is_trainable=for_training)
            if kind == "prefix":
                install_prefix_generate(model)
    if qconfig is None:
        model.to(device)
    if not for_training:
        model.eval()
    return model, tokenizer


# --- prefix-tuning generation -------------------------------------------------------------------------

def _cache_kwarg(base_model) -> str:
    """The name the model's forward uses for its KV cache: ``cache`` (transformers 5.x) or ``past_key_values``."""
    import inspect

    params = inspect.signature(base_model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def prefix_generate(peft_model, input_ids=None, attention_mask=None, **kwargs):
    """``generate`` for a PEFT prefix-tuning model that really uses the prefix.

    The trained prefix is a KV cache of ``P`` virtual tokens per layer. We hand it to the *base* model's
    ``generate`` as a pre-filled cache and put ``P`` placeholder ids in front of the prompt so that
    generate's bookkeeping (which assumes the cache covers the first ids) lines up: the placeholders are
    never fed to the model (they are "already cached"), the real prompt gets positions ``P, P+1, …``
    exactly as in the training forward pass, and the attention mask covers prefix + prompt. The
    placeholders are cut from the returned sequences, so callers see ``prompt + new tokens`` as usual.
    """
    import torch

    if input_ids is None:
        input_ids = kwargs.pop("inputs", None)
    if input_ids is None:
        raise ValueError("prefix_generate needs input_ids")
    config = peft_model.active_peft_config
    n_virtual = config.num_virtual_tokens
    batch = input_ids.shape[0]
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    base = peft_model.get_base_model()
    pad_id = kwargs.get("pad_token_id")
    if pad_id is None:
        pad_id = getattr(base.generation_config, "pad_token_id", None) or 0
    placeholder = torch.full((batch, n_virtual), int(pad_id), dtype=input_ids.dtype, device=input_ids.device)
    full_ids = torch.cat([placeholder, input_ids], dim=1)
    full_mask = torch.cat([torch.ones((batch, n_virtual), dtype=attention_mask.dtype,
                                      device=attention_mask.device), attention_mask], dim=1)
    cache = peft_model.get_prompt(batch_size=batch)
    kwargs[_cache_kwarg(base)] = cache
    out = base.generate(input_ids=full_ids, attention_mask=full_mask, **kwargs)
    if hasattr(out, "sequences"):  # return_dict_in_generate=True
        out.sequences = out.sequences[:, n_virtual:]
        return out
    return out[:, n_virtual:]


def install_prefix_generate(peft_model) -> None:
    """Replace this PEFT prefix-tuning model's ``generate`` with :func:`prefix_generate`."""
    peft_model.generate = types.MethodType(prefix_generate, peft_model)
