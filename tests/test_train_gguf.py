"""A user with a llama.cpp GGUF model turns it into a Hugging Face folder that training and the transformers
backend load: `assistant model import-gguf FILE.gguf --out DIR`.

The GGUF is written here, with the ``gguf`` package, from a tiny random Qwen2 model and a byte-level BPE
tokenizer trained on the fixture statutes - the same tensor names, metadata keys and tokenizer fields
llama.cpp's converter writes - so the round trip (HF -> GGUF -> import) must reproduce the logits."""
from __future__ import annotations

import json

import pytest
import torch

gguf = pytest.importorskip("gguf", reason="import-gguf needs the gguf package (pip install 'assistant[gguf]')")

CHAT_TEMPLATE = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                 "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _tiny_qwen2(texts):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIALS,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    cfg = Qwen2Config(vocab_size=bpe.get_vocab_size(), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                      rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False,
                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).eval()
    with torch.no_grad():  # random norms and biases too, so a tensor mapped to the wrong place shows
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1 + (1.0 if "norm" in name else 0.0))
    return model, tok, bpe


def _write_gguf(path, model, bpe):
    """What llama.cpp's convert_hf_to_gguf.py writes for a Qwen2 model, in F32."""
    cfg = model.config
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_name("tiny-qwen2")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]) if getattr(cfg, "rope_parameters", None)
                         else float(cfg.rope_theta))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = bpe.get_vocab()
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    merges = [" ".join(m) for m in json.loads(bpe.to_str())["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t in SPECIALS else gguf.TokenType.NORMAL for t in tokens])
    w.add_token_merges(merges)
    w.add_eos_token_id(vocab["<|im_end|>"])
    w.add_pad_token_id(vocab["<|endoftext|>"])
    w.add_bos_token_id(vocab["<|endoftext|>"])
    w.add_add_bos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)
    names = {"self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
             "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
             "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm"}
    for name, p in model.state_dict().items():
        if name == "model.embed_tokens.weight":
            out = "token_embd.weight"
        elif name == "lm_head.weight":
            out = "output.weight"
        elif name == "model.norm.weight":
            out = "output_norm.weight"
        else:
            _, _, layer, rest = name.split(".", 3)
            module, kind = rest.rsplit(".", 1)
            out = f"blk.{layer}.{names[module]}.{kind}"
        w.add_tensor(out, p.detach().float().numpy())
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    from conftest import fixture_documents

    texts = [a.searchable_text() for d in fixture_documents() for a in d.articles]
    model, tok, bpe = _tiny_qwen2(texts)
    path = tmp_path_factory.mktemp("gguf") / "tiny-qwen2-f32.gguf"
    _write_gguf(path, model, bpe)
    return path, model, tok


def test_import_gguf_reproduces_the_model_and_keeps_tokenizer_and_chat_template(tiny_gguf, tmp_path, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.cli import main

    path, original, original_tok = tiny_gguf
    out = tmp_path / "hf"
    assert main(["model", "import-gguf", str(path), "--out", str(out), "--dtype", "fp32", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_type"] == "qwen2" and info["chat_template"] is True
    assert {"config.json", "model.safetensors", "tokenizer.json", "gguf_import.json"} <= {p.name for p in out.iterdir()}
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    tok = AutoTokenizer.from_pretrained(out)
    text = "醉酒驾驶机动车的，处拘役，并处罚金。"
    ids = tok(text, return_tensors="pt")["input_ids"]
    assert tok.decode(ids[0]) == text
    assert ids[0].tolist() == original_tok(text)["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, original(ids).logits, atol=1e-4)
    prompt = tok.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True)
    assert prompt == "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>" and tok.pad_token is not None


def test_imported_model_trains_with_lora_and_answers_through_the_backend(tiny_gguf, tmp_path):
    from assistant.answer.backends.base import GenerationRequest
    from assistant.answer.backends.transformers import TransformersBackend
    from assistant.train.gguf_import import import_gguf
    from assistant.train.trainer import train

    path, _, _ = tiny_gguf
    hf = tmp_path / "hf"
    info = import_gguf(path, hf)  # bf16 by default
    assert info["dtype"] == "bfloat16"
    data = tmp_path / "sft.jsonl"
    data.write_text(json.dumps({"instruction": "醉驾怎么处罚？", "output": "处拘役，并处罚金。"}, ensure_ascii=False)
                    + "\n", encoding="utf-8")
    metrics = train("sft", {"model_name_or_path": str(hf), "datasets": [str(data)], "template": "auto",
                            "method": "lora", "lora_rank": 4, "output_dir": str(tmp_path / "lora"), "max_steps": 6,
                            "learning_rate": 5e-2, "logging_steps": 1, "save_strategy": "no", "use_cpu": True},
                    progress=False)
    assert metrics["last_logged_loss"] < metrics["first_logged_loss"]
    backend = TransformersBackend(hf, tmp_path / "lora", max_new_tokens=4)
    # served with the prompt it was trained on (the full one), not the short prompt for untuned small models
    assert backend.short_context is False and TransformersBackend.short_context is True
    request = GenerationRequest(question="醉驾怎么处罚？", hits=[], messages=[{"role": "user", "content": "醉驾怎么处罚？"}],
                                history=[], max_new_tokens=4)
    assert isinstance("".join(backend.stream(request)), str) and request.generated_tokens >= 1


def test_import_gguf_rejects_a_file_that_is_not_gguf(tmp_path, capsys):
    from assistant.cli import main

    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"PK\x03\x04 not a gguf")
    assert main(["model", "import-gguf", str(bad), "--out", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "model.gguf" in err and "not a GGUF file" in err
    assert not (tmp_path / "out").exists()
    assert main(["model", "import-gguf", str(tmp_path / "missing.gguf"), "--out", str(tmp_path / "o2")]) != 0
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("outtype,atol", [("f32", 1e-4), ("f16", 2e-2)])
def test_merged_model_exports_back_to_gguf_for_llama_cpp(tiny_gguf, tmp_path, capsys, outtype, atol):
    """HF folder -> `model export-gguf` -> `model import-gguf` gives the same tokens, chat template and logits."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.cli import main

    _, original, original_tok = tiny_gguf
    hf = tmp_path / "merged"
    original.save_pretrained(hf)
    original_tok.chat_template = CHAT_TEMPLATE
    original_tok.save_pretrained(hf)
    out = tmp_path / f"model-{outtype}.gguf"
    assert main(["model", "export-gguf", str(hf), "--out", str(out), "--outtype", outtype, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["outtype"] == outtype and info["chat_template"] is True and out.read_bytes()[:4] == b"GGUF"
    names = {t.name: t for t in gguf.GGUFReader(str(out)).tensors}
    assert names["blk.0.attn_q.bias"].tensor_type == gguf.GGMLQuantizationType.F32  # biases stay f32
    assert names["blk.1.ffn_down.weight"].tensor_type == getattr(gguf.GGMLQuantizationType, outtype.upper())
    back = tmp_path / "back"
    assert main(["model", "import-gguf", str(out), "--out", str(back), "--dtype", "fp32", "--json"]) == 0
    capsys.readouterr()
    model = AutoModelForCausalLM.from_pretrained(back).eval()
    tok = AutoTokenizer.from_pretrained(back)
    text = "醉酒驾驶机动车的，处拘役，并处罚金。"
    ids = tok(text, return_tensors="pt")["input_ids"]
    assert ids[0].tolist() == original_tok(text)["input_ids"]
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, original(ids).logits, atol=atol)
    assert tok.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True) \
        == "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"


def test_export_gguf_refuses_an_adapter_folder(tmp_path, capsys):
    from assistant.cli import main

    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    assert main(["model", "export-gguf", str(tmp_path / "adapter"), "--out", str(tmp_path / "x.gguf")]) == 2
    assert "train merge" in capsys.readouterr().err
