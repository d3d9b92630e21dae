"""``assistant model export-gguf DIR --out FILE.gguf``: a Hugging Face Qwen2 folder (e.g. the output of
``assistant train merge``) back as a GGUF file for llama.cpp (``--backend llamacpp``), the inverse of
:mod:`assistant.train.gguf_import`.

It writes what llama.cpp's ``convert_hf_to_gguf.py`` writes for a Qwen2 model: the ``qwen2.*`` hyper-
parameters, the byte-level BPE vocabulary (``tokenizer.ggml.*``: tokens padded to the embedding rows,
merges, special-token types and ids), the chat template, and the tensors under llama.cpp's names (no
Q/K permutation: Qwen2 uses NEOX-style RoPE). Weights are written as F16 (default), F32 or Q8_0; norms and
biases stay F32 as llama.cpp keeps them. Smaller quantisations (Q4_K_M) are made from the F16 file with
llama.cpp's own ``llama-quantize``. Only Qwen2 is supported: other architectures need llama.cpp's
converter (Llama's Q/K rows, for one, are permuted there).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

_LAYER_NAMES = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
                "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
                "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
                "post_attention_layernorm": "ffn_norm"}
OUT_TYPES = ("f16", "f32", "q8_0")


class GGUFExportError(ValueError):
    """A model folder that cannot be exported; the message names the folder and the reason."""


def gguf_tensor_name(hf_name: str) -> str:
    """llama.cpp's name for a Qwen2 tensor (``model.layers.3.self_attn.q_proj.weight`` -> ``blk.3.attn_q.weight``)."""
    fixed = {"model.embed_tokens.weight": "token_embd.weight", "lm_head.weight": "output.weight",
             "model.norm.weight": "output_norm.weight"}
    if hf_name in fixed:
        return fixed[hf_name]
    parts = hf_name.split(".", 3)
    if len(parts) != 4 or parts[:2] != ["model", "layers"]:
        raise GGUFExportError(f"tensor {hf_name!r} has no llama.cpp name for qwen2")
    module, kind = parts[3].rsplit(".", 1)
    if module not in _LAYER_NAMES:
        raise GGUFExportError(f"tensor {hf_name!r} has no llama.cpp name for qwen2")
    return f"blk.{parts[2]}.{_LAYER_NAMES[module]}.{kind}"


def _vocabulary(tokenizer, n_rows: int):
    """(tokens, token types, merges) as llama.cpp's gpt2-style BPE vocabulary, padded to ``n_rows``."""
    import gguf

    data = json.loads(tokenizer.backend_tokenizer.to_str())
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise GGUFExportError(f"tokenizer model {model.get('type')!r}: only byte-level BPE (Qwen2) is exported")
    by_id = {i: t for t, i in model["vocab"].items()}
    added = {a["id"]: a for a in data.get("added_tokens", [])}
    for i, a in added.items():
        by_id[i] = a["content"]
    size = max(n_rows, max(by_id) + 1)
    tokens, types = [], []
    for i in range(size):
        if i in added:
            tokens.append(added[i]["content"])
            types.append(gguf.TokenType.CONTROL if added[i].get("special") else gguf.TokenType.USER_DEFINED)
        elif i in by_id:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
        else:  # embedding rows beyond the vocabulary (Qwen2 pads to a multiple of 128): as the converter does
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]
    return tokens, types, merges


def export_gguf(model_dir, out_file, outtype: str = "f16") -> dict:
    """Write the Hugging Face folder ``model_dir`` as ``out_file`` (GGUF); returns a summary dict."""
    import importlib.util

    if importlib.util.find_spec("gguf") is None:
        raise GGUFExportError("writing GGUF files needs the gguf package: pip install 'assistant[gguf]'")
    import gguf
    import numpy as np
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from assistant.threads import limit_torch_threads

    limit_torch_threads()
    src, out = Path(model_dir), Path(out_file)
    if outtype not in OUT_TYPES:
        raise GGUFExportError(f"unknown --outtype {outtype!r} (use {', '.join(OUT_TYPES)})")
    if not (src / "config.json").is_file():
        raise GGUFExportError(f"{src}: not a Hugging Face model folder (no config.json); an adapter must be "
                              "merged first: assistant train merge --model BASE --adapter A --out DIR")
    config = AutoConfig.from_pretrained(str(src))
    if config.model_type != "qwen2":
        raise GGUFExportError(f"{src}: model type {config.model_type!r}; export-gguf writes qwen2 only "
                              "(use llama.cpp's convert_hf_to_gguf.py for other architectures)")
    if out.exists():
        raise GGUFExportError(f"{out} exists; choose a new --out file")
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(src))
    model = AutoModelForCausalLM.from_pretrained(str(src), dtype=torch.float32)
    state = model.state_dict()
    tied = bool(getattr(config, "tie_word_embeddings", False))

    # written beside the target and renamed when complete: a failed export leaves no half file behind
    # (the writer opens its file only in write_header_to_file)
    part = out.with_name(out.name + ".part")
    writer = gguf.GGUFWriter(str(part), "qwen2")
    writer.add_name(src.name)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    file_type = {"f16": gguf.LlamaFileType.MOSTLY_F16, "f32": gguf.LlamaFileType.ALL_F32,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[outtype]
    writer.add_file_type(file_type)
    tokens, types, merges = _vocabulary(tokenizer, state["model.embed_tokens.weight"].shape[0])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, token in ((writer.add_eos_token_id, tokenizer.eos_token), (writer.add_pad_token_id, tokenizer.pad_token),
                          (writer.add_bos_token_id, tokenizer.bos_token or tokenizer.pad_token)):
        if token is not None:
            setter(tokenizer.convert_tokens_to_ids(token))
    writer.add_add_bos_token(False)
    if getattr(tokenizer, "chat_template", None):
        writer.add_chat_template(tokenizer.chat_template)

    for name, tensor in state.items():
        if name == "lm_head.weight" and tied:
            continue  # llama.cpp reads the tied head from token_embd
        data = tensor.detach().float().numpy()
        if data.ndim == 1 or outtype == "f32":  # norms and biases stay f32, as llama.cpp keeps them
            writer.add_tensor(gguf_tensor_name(name), data.astype(np.float32))
        elif outtype == "f16":
            writer.add_tensor(gguf_tensor_name(name), data.astype(np.float16))
        else:
            q = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(gguf_tensor_name(name), q, raw_shape=q.shape,
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    try:
        try:
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return {"source": str(src), "out": str(out), "model_type": config.model_type, "outtype": outtype,
            "tensors": len(state) - (1 if tied and "lm_head.weight" in state else 0), "vocab_size": len(tokens),
            "chat_template": bool(getattr(tokenizer, "chat_template", None)), "bytes": out.stat().st_size,
            "seconds": round(time.perf_counter() - start, 1)}
