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

from tiny_gguf import CHAT_TEMPLATE  # noqa: E402


@pytest.fixture(scope="module")
def tiny_gguf(tiny_qwen2_gguf):
    return tiny_qwen2_gguf


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
    if outtype == "f32":
        _llama_cpp_reads_it_the_same(out, original, ids[0].tolist())


def _llama_cpp_reads_it_the_same(path, original, ids):
    """llama.cpp itself (when installed) tokenises the exported file the same and computes the same logits.
    Run in a child process: a llama.cpp build made for another CPU dies with SIGILL."""
    import subprocess
    import sys

    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llamacpp]')")
    probe = (
        "import json, sys; from llama_cpp import Llama\n"
        f"m = Llama(model_path={str(path)!r}, n_ctx=64, n_threads=1, logits_all=True, verbose=False)\n"
        "ids = m.tokenize('醉酒驾驶机动车的，处拘役，并处罚金。'.encode(), add_bos=False, special=False)\n"
        "m.eval(ids)\n"
        "print(json.dumps({'ids': ids, 'last': [float(x) for x in m.scores[len(ids) - 1]]}))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=300)
    if proc.returncode < 0:
        pytest.skip(f"llama.cpp dies on this machine (signal {-proc.returncode}: built for another CPU)")
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-500:]
    got = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert got["ids"] == ids
    with torch.no_grad():
        want = original(torch.tensor([ids])).logits[0, -1]
    assert torch.allclose(torch.tensor(got["last"]), want, atol=1e-3)


def test_export_gguf_refuses_an_adapter_folder(tmp_path, capsys):
    from assistant.cli import main

    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}", encoding="utf-8")
    assert main(["model", "export-gguf", str(tmp_path / "adapter"), "--out", str(tmp_path / "x.gguf")]) == 2
    assert "train merge" in capsys.readouterr().err
