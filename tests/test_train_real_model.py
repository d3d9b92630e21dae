"""Opt-in: on a real instruct model, P-Tuning v2's prefix really steers generate() (the fix in
assistant.models.loader.prefix_generate), exactly as a manual greedy decode through the prefix does.

Runs only when ASSISTANT_REAL_MODEL names a Hugging Face model folder, e.g. the imported 0.5B model:
    assistant model import-gguf ~/.cache/assistant-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf --out runs/qwen05b
    ASSISTANT_REAL_MODEL=runs/qwen05b python -m pytest -q tests/test_train_real_model.py
ASSISTANT_REAL_PREFIX_ADAPTER may name a trained prefix adapter of that model (default: a fresh, untrained
prefix). About a minute on one CPU core."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REAL = os.environ.get("ASSISTANT_REAL_MODEL")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not REAL or not (Path(REAL) / "config.json").is_file(),
    reason="opt-in: set ASSISTANT_REAL_MODEL to a local Hugging Face model folder (see the module docstring)")]


def test_prefix_steers_generate_on_the_real_model():
    from peft import PrefixTuningConfig, TaskType, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.threads import limit_torch_threads
    from assistant.models.loader import install_prefix_generate, load_causal_lm

    limit_torch_threads()
    adapter = os.environ.get("ASSISTANT_REAL_PREFIX_ADAPTER")
    if adapter:
        model, tok = load_causal_lm(REAL, adapter, dtype="fp32")
        base = AutoModelForCausalLM.from_pretrained(REAL, dtype=torch.float32).eval()
    else:
        tok = AutoTokenizer.from_pretrained(REAL)
        base = AutoModelForCausalLM.from_pretrained(REAL, dtype=torch.float32).eval()
        torch.manual_seed(0)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(REAL, dtype=torch.float32),
                               PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=8)).eval()
        install_prefix_generate(model)
    text = tok.apply_chat_template([{"role": "user", "content": "醉驾怎么处罚？"}], tokenize=False,
                                   add_generation_prompt=True)
    ids = tok(text, return_tensors="pt")
    n = 6
    kwargs = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id,
                  temperature=None, top_p=None, top_k=None)
    with torch.no_grad():
        generated = model.generate(**ids, **kwargs)
        plain = base.generate(**ids, **kwargs)
        seq = ids["input_ids"]
        for _ in range(n):  # reference: full forward passes of the PEFT model, which injects the prefix
            logits = model(input_ids=seq, attention_mask=torch.ones_like(seq)).logits
            seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(generated, seq)
    assert generated[0, : ids["input_ids"].shape[1]].tolist() == ids["input_ids"][0].tolist()
    assert not torch.equal(generated, plain)  # the prefix changes what the model says
