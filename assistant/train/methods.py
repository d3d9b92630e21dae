"""Fine-tuning methods: LoRA, P-Tuning v2 (prefix tuning) and full fine-tuning.

* LoRA through PEFT, target modules per architecture (``query_key_value`` for ChatGLM2's remote code,
  attention + MLP projections (``q/k/v/o_proj``, ``gate/up/down_proj``) for
  GLM/GLM-4/Llama/Qwen/Mistral …, ``all`` = every linear layer but the head).
* P-Tuning v2: ``pre_seq_len`` virtual key/value tokens in every layer, base frozen. On ChatGLM2's own
  remote code (its config has ``pre_seq_len``) the native ``PrefixEncoder`` is used, exactly as ChatGLM2's
  ``ptuning`` recipe; everywhere else PEFT prefix tuning (``prefix_projection`` = PEFT's
  ``prefix_projection`` MLP reparametrisation).
  The prefix starts random (PEFT's default) or, with ``prefix_init_text``, as the base model's own key /
  value states of a real text of ``pre_seq_len`` tokens (:func:`init_prefix_from_text`): training then
  starts from "the model has just read this text" instead of from noise that a 0.5B model cannot ignore.
* full: every parameter trains.
"""
from __future__ import annotations

# attention and MLP projections: adapting the MLPs as well is what lets a small model absorb new domain
# text (CPT) and a new answer format at a low rank
_ATTN = ["q_proj", "k_proj", "v_proj", "o_proj"]
_LLAMA_MLP = ["gate_proj", "up_proj", "down_proj"]
LORA_TARGETS = {
    "chatglm": ["query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"],
    "glm": _ATTN + ["gate_up_proj", "down_proj"],
    "glm4": _ATTN + ["gate_up_proj", "down_proj"],
    "llama": _ATTN + _LLAMA_MLP,
    "qwen2": _ATTN + _LLAMA_MLP,
    "qwen3": _ATTN + _LLAMA_MLP,
    "mistral": _ATTN + _LLAMA_MLP,
    "baichuan": ["W_pack"],
    "bloom": ["query_key_value"],
    "gpt2": ["c_attn"],
}


def lora_targets(model, requested: list[str] | None = None) -> list[str] | str:
    if requested and requested != ["auto"]:
        return "all-linear" if requested in (["all"], ["all-linear"]) else list(requested)
    model_type = getattr(model.config, "model_type", "")
    if model_type in LORA_TARGETS:
        return LORA_TARGETS[model_type]
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_DEFAULTS

    if model_type in PEFT_DEFAULTS:
        return list(PEFT_DEFAULTS[model_type])
    raise ValueError(f"no default LoRA target modules for model type {model_type!r}; set lora_target")


def is_chatglm2_native(model) -> bool:
    """ChatGLM2's remote code: its config carries pre_seq_len and its transformer a prefix encoder slot."""
    return getattr(model.config, "model_type", "") == "chatglm" and hasattr(model.config, "pre_seq_len")


def apply_method(model, method_args, tokenizer=None):
    """The model to train (PEFT-wrapped, natively prefixed, or as is) with only its trainable params on."""
    method = method_args.method
    if method == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    from peft import LoraConfig, PrefixTuningConfig, TaskType, get_peft_model

    if method == "lora":
        cfg = LoraConfig(task_type=TaskType.CAUSAL_LM, r=method_args.lora_rank, lora_alpha=method_args.lora_alpha,
                         lora_dropout=method_args.lora_dropout, target_modules=lora_targets(model, method_args.lora_target))
        return get_peft_model(model, cfg)
    if method == "ptuning":
        if is_chatglm2_native(model):
            raise ValueError("ChatGLM2 native P-Tuning needs pre_seq_len in the config at load time; "
                             "use load_for_native_ptuning")
        cfg = PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=method_args.pre_seq_len,
                                 prefix_projection=method_args.prefix_projection,
                                 encoder_hidden_size=method_args.prefix_hidden_size)
        model = get_peft_model(model, cfg)
        if getattr(method_args, "prefix_init_text", None):
            if tokenizer is None:
                raise ValueError("prefix_init_text needs the tokenizer: apply_method(model, args, tokenizer)")
            init_prefix_from_text(model, tokenizer, method_args.prefix_init_text)
        from assistant.models.loader import install_prefix_generate

        install_prefix_generate(model)
        return model
    raise ValueError(f"unknown method {method!r}")


def load_for_native_ptuning(model_path: str, method_args, dtype=None):
    """ChatGLM2 with its own PrefixEncoder (config.pre_seq_len / prefix_projection), base frozen.
    Needs ChatGLM2's remote code in ``model_path``; not exercised by the tests (no such code here)."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(model_path, trust_remote_code=True)
    config.pre_seq_len = method_args.pre_seq_len
    config.prefix_projection = method_args.prefix_projection
    model = AutoModel.from_pretrained(model_path, config=config, trust_remote_code=True, dtype=dtype)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("transformer.prefix_encoder."))
    model._native_ptuning = True  # the trainer saves only the prefix encoder for such models
    return model


def count_parameters(model) -> dict:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "trainable_share": trainable / total if total else 0.0}


def _layer_kv(cache, layer: int):
    """(key, value) of one layer of a transformers cache, whichever layout this version uses."""
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return layers[layer].keys, layers[layer].values
    if hasattr(cache, "key_cache"):
        return cache.key_cache[layer], cache.value_cache[layer]
    return cache[layer][0], cache[layer][1]


def text_prefix_ids(tokenizer, text: str, length: int):
    """The first ``length`` token ids of ``text`` (no special tokens), as a (1, length) tensor."""
    import torch

    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:length]
    if len(ids) < length:
        raise ValueError(f"prefix_init_text has {len(ids)} tokens; P-Tuning v2 with pre_seq_len {length} "
                         f"needs at least {length}")
    return torch.tensor([ids])


def init_prefix_from_text(peft_model, tokenizer, text: str) -> int:
    """Write the base model's key/value states of the first ``num_virtual_tokens`` tokens of ``text`` into
    the PEFT prefix encoder, so that before training the prefixed model behaves exactly as the base model
    does with that text in front of the prompt (keys carry RoPE positions 0..P-1; prompts then start at P,
    as in training and :func:`assistant.models.loader.prefix_generate`). Returns the number of tokens."""
    import torch

    config = peft_model.active_peft_config
    if getattr(config, "prefix_projection", False):
        raise ValueError("prefix_init_text needs prefix_projection: false (the MLP's input is not a KV state)")
    n = config.num_virtual_tokens
    ids = text_prefix_ids(tokenizer, text, n)
    base = peft_model.get_base_model()
    device = next(base.parameters()).device
    with torch.no_grad():
        cache = base(input_ids=ids.to(device), use_cache=True).past_key_values
        # PEFT's layout: (P, layers*2*kv_heads*head_dim), viewed as (P, layers*2, kv_heads, head_dim) with
        # layer i's key at 2i and its value at 2i+1
        per_layer = []
        for layer in range(config.num_layers):
            key, value = _layer_kv(cache, layer)  # (1, kv_heads, P, head_dim) each
            per_layer += [key[0], value[0]]
        states = torch.stack(per_layer)  # (layers*2, kv_heads, P, head_dim)
        flat = states.permute(2, 0, 1, 3).reshape(n, -1)
        weight = peft_model.prompt_encoder[peft_model.active_adapter].embedding.weight
        if flat.shape != weight.shape:
            raise ValueError(f"the model's KV states {tuple(flat.shape)} do not fit the prefix {tuple(weight.shape)}")
        weight.copy_(flat.to(weight.dtype))
    return n
