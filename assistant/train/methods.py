"""Fine-tuning methods: LoRA, P-Tuning v2 (prefix tuning) and full fine-tuning.

* LoRA through PEFT, target modules per architecture (``query_key_value`` for ChatGLM2's remote code,
  attention + MLP projections (``q/k/v/o_proj``, ``gate/up/down_proj``) for
  GLM/GLM-4/Llama/Qwen/Mistral …, ``all`` = every linear layer but the head).
* P-Tuning v2: ``pre_seq_len`` virtual key/value tokens in every layer, base frozen. On ChatGLM2's own
  remote code (its config has ``pre_seq_len``) the native ``PrefixEncoder`` is used, exactly as ChatGLM2's
  ``ptuning`` recipe; everywhere else PEFT prefix tuning (``prefix_projection`` = PEFT's
  ``prefix_projection`` MLP reparametrisation).
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


def apply_method(model, method_args):
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
        from assistant.train.adapters import install_prefix_generate

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
