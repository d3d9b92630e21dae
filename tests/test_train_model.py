"""Training on the tiny GLM model: loss goes down, LoRA / P-Tuning v2 train only their parameters,
adapter checkpoints reload to identical outputs, prefix generation really uses the prefix, LoRA merges,
training resumes, and the CLI writes metrics + loss curve."""
from __future__ import annotations

import json
import sys

import pytest
import torch

FIXTURE_SFT = [
    {"instruction": "《中华人民共和国刑法》第一百三十三条之一的内容是什么？", "input": "",
     "output": "在道路上驾驶机动车，醉酒驾驶机动车的，处拘役，并处罚金。"},
    {"instruction": "《中华人民共和国民法典》第一千零四十三条的内容是什么？", "input": "",
     "output": "家庭应当树立优良家风，弘扬家庭美德，重视家庭文明建设。"},
    {"instruction": "劳动合同法第一条的内容是什么？", "input": "",
     "output": "为了完善劳动合同制度，制定本法。"},
]


@pytest.fixture(scope="module")
def sft_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sft") / "rec.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in FIXTURE_SFT), encoding="utf-8")
    return path


def _config(model, data, out, method, **extra):
    cfg = {"model_name_or_path": str(model), "datasets": [str(data)], "method": method, "output_dir": str(out),
           "max_steps": 6, "learning_rate": 1e-2, "per_device_train_batch_size": 3, "logging_steps": 1,
           "save_strategy": "no", "use_cpu": True, "seed": 0, "lora_rank": 4, "pre_seq_len": 4}
    cfg.update(extra)
    return cfg


def _prompt_ids(tok, text="《中华人民共和国刑法》第一百三十三条之一的内容是什么？"):
    return tok(f"[Round 1]\n\n问：{text}\n\n答：", return_tensors="pt")


def _batch_loss(model, tok, rows):
    from assistant.train.data.masking import make_collator

    batch = make_collator(tok)(rows)
    with torch.no_grad():
        return model(**batch).loss.item()


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, sft_file, tmp_path_factory):
    from assistant.train.trainer import train

    out = tmp_path_factory.mktemp("lora")
    return out, train("sft", _config(tiny_model_dir, sft_file, out, "lora", learning_rate=5e-2, max_steps=8),
                      progress=False)


@pytest.fixture(scope="module")
def prefix_run(tiny_model_dir, sft_file, tmp_path_factory):
    from assistant.train.trainer import train

    out = tmp_path_factory.mktemp("prefix")
    return out, train("sft", _config(tiny_model_dir, sft_file, out, "ptuning", learning_rate=0.3, max_steps=8),
                      progress=False)


def test_tiny_model_loads_offline_as_glm(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert type(model).__name__ == "GlmForCausalLM" and model.config.model_type == "glm"
    assert model.config.vocab_size == len(tok) and model.config.eos_token_id == tok.eos_token_id
    assert tok.chat_template is None  # documented: callers use the ChatGLM2 template


def test_full_finetune_lowers_the_loss(tiny_model_dir, sft_file, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.train.data.formats import load_sft_file
    from assistant.train.data.masking import MaskingConfig, encode_example
    from assistant.train.trainer import train

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [encode_example(e, tok, MaskingConfig()) for e in load_sft_file(sft_file)]
    before = _batch_loss(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tok, rows)
    metrics = train("sft", _config(tiny_model_dir, sft_file, tmp_path, "full"), progress=False)
    after = _batch_loss(AutoModelForCausalLM.from_pretrained(tmp_path), tok, rows)
    assert after < before - 1.0, (before, after)
    assert metrics["parameters"]["trainable"] == metrics["parameters"]["total"]
    assert (tmp_path / "model.safetensors").is_file()


def test_lora_trains_only_its_matrices_and_reloads_identically(tiny_model_dir, lora_run):
    from transformers import AutoModelForCausalLM

    from assistant.models.loader import load_causal_lm

    out, metrics = lora_run
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    # LoRA sits on every attention and MLP projection of every layer; rank r adds r*(in+out) per matrix
    r = 4
    targets = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_up_proj", "down_proj")
    adapted = [m for name, m in base.named_modules() if name.rsplit(".", 1)[-1] in targets]
    assert len(adapted) == len(targets) * base.config.num_hidden_layers
    assert metrics["parameters"]["trainable"] == sum(r * (m.in_features + m.out_features) for m in adapted)
    assert metrics["last_logged_loss"] < metrics["first_logged_loss"]
    files = {p.name for p in out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "metrics.json", "loss.png"} <= files
    assert "model.safetensors" not in files  # only the trained weights are saved
    model, tok = load_causal_lm(tiny_model_dir, out)
    model2, _ = load_causal_lm(tiny_model_dir, out)
    ids = _prompt_ids(tok)
    with torch.no_grad():
        a, b, plain = model(**ids).logits, model2(**ids).logits, base(**ids).logits
    assert torch.equal(a, b)
    assert not torch.allclose(a, plain)  # the adapter is really applied
    # the base weights were not touched by training: the adapter folder names the same base
    assert json.loads((out / "adapter_config.json").read_text())["peft_type"] == "LORA"


def test_merge_equals_adapter_outputs(tiny_model_dir, lora_run, tmp_path):
    from transformers import AutoModelForCausalLM

    from assistant.cli import main
    from assistant.models.loader import load_causal_lm

    out, _ = lora_run
    assert main(["train", "merge", "--model", str(tiny_model_dir), "--adapter", str(out),
                 "--out", str(tmp_path / "merged"), "--json"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    adapted, tok = load_causal_lm(tiny_model_dir, out)
    ids = _prompt_ids(tok)
    with torch.no_grad():
        assert torch.allclose(merged(**ids).logits, adapted(**ids).logits, atol=1e-5)


def _manual_greedy(model, ids, n):
    """Greedy decoding by repeated full forward passes of the PEFT model (whose forward injects the prefix
    as past key/values) - the reference that generate() must reproduce."""
    seq = ids["input_ids"]
    for _ in range(n):
        with torch.no_grad():
            logits = model(input_ids=seq, attention_mask=torch.ones_like(seq)).logits
        seq = torch.cat([seq, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return seq


def test_prefix_tuning_trains_only_the_prefix_and_generate_uses_it(tiny_model_dir, prefix_run):
    from transformers import AutoModelForCausalLM

    from assistant.models.loader import load_causal_lm

    out, metrics = prefix_run
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    c = base.config
    # pre_seq_len virtual tokens x layers x (key + value) x kv_heads*head_dim
    assert metrics["parameters"]["trainable"] == 4 * c.num_hidden_layers * 2 * c.num_key_value_heads * c.head_dim
    model, tok = load_causal_lm(tiny_model_dir, out)
    ids = _prompt_ids(tok)
    n = 12
    kwargs = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=tok.pad_token_id)
    with torch.no_grad():
        generated = model.generate(**ids, **kwargs)
        plain = base.generate(**ids, **kwargs)
    manual = _manual_greedy(model, ids, n)
    assert torch.equal(generated, manual)
    assert generated[0, : ids["input_ids"].shape[1]].tolist() == ids["input_ids"][0].tolist()
    assert not torch.equal(generated, plain)
    # reloading the checkpoint gives the same generation
    model2, _ = load_causal_lm(tiny_model_dir, out)
    with torch.no_grad():
        assert torch.equal(model2.generate(**ids, **kwargs), generated)


STATUTE = "在道路上驾驶机动车，有下列情形之一的，处拘役，并处罚金：追逐竞驶，情节恶劣的；醉酒驾驶机动车的。"


def test_prefix_can_start_as_the_models_own_reading_of_a_statute(tiny_model_dir, sft_file, tmp_path):
    """P-Tuning v2 initialised from real key/value states: before training, the prefixed model is the base
    model with the statute's first pre_seq_len tokens in front of the prompt - logits, the prefix itself and
    generate() - and the trainer writes exactly that prefix when it does not move (learning rate 0)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.models.loader import load_causal_lm
    from assistant.train.hparams import MethodArguments
    from assistant.train.methods import _layer_kv, apply_method, text_prefix_ids
    from assistant.train.trainer import train

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    text_ids = text_prefix_ids(tok, STATUTE, 4)
    with torch.no_grad():
        reading = base(input_ids=text_ids, use_cache=True).past_key_values
    model = apply_method(AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(),
                         MethodArguments(method="ptuning", pre_seq_len=4, prefix_init_text=STATUTE), tok)
    prefix = model.get_prompt(batch_size=1)
    for layer in range(base.config.num_hidden_layers):
        for got, want in zip(_layer_kv(prefix, layer), _layer_kv(reading, layer)):
            assert torch.allclose(got, want, atol=1e-6)
    ids = _prompt_ids(tok)["input_ids"]
    together = torch.cat([text_ids, ids], dim=1)
    with torch.no_grad():
        prefixed = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, -1]
        read_first = base(input_ids=together).logits[:, -1]
    assert torch.allclose(prefixed, read_first, atol=1e-4)
    kwargs = dict(max_new_tokens=8, min_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    with torch.no_grad():
        want = base.generate(input_ids=together, attention_mask=torch.ones_like(together), **kwargs)
        assert model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)[0, ids.shape[1]:].tolist() \
            == want[0, together.shape[1]:].tolist()
    # the same through `train sft --prefix_init_text @FILE`, saved and reloaded
    (tmp_path / "statute.txt").write_text(STATUTE, encoding="utf-8")
    out = tmp_path / "run"
    train("sft", _config(tiny_model_dir, sft_file, out, "ptuning", learning_rate=0.0, max_steps=1,
                         prefix_init_text=f"@{tmp_path / 'statute.txt'}"), progress=False)
    reloaded, _ = load_causal_lm(tiny_model_dir, out)
    with torch.no_grad():
        assert reloaded.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)[0, ids.shape[1]:].tolist() \
            == want[0, together.shape[1]:].tolist()
    with pytest.raises(ValueError, match="needs at least 4"):
        apply_method(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                     MethodArguments(method="ptuning", pre_seq_len=4, prefix_init_text="醉"), tok)


def test_resume_from_checkpoint(tiny_model_dir, sft_file, tmp_path):
    from safetensors.torch import load_file

    from assistant.train.trainer import train

    cfg = _config(tiny_model_dir, sft_file, tmp_path / "full", "lora", max_steps=4, save_strategy="steps",
                  save_steps=2)
    train("sft", cfg, progress=False)  # uninterrupted run, checkpoints at steps 2 and 4
    ckpt = tmp_path / "full" / "checkpoint-2"
    assert (ckpt / "adapter_model.safetensors").is_file() and not (ckpt / "model.safetensors").exists()
    metrics = train("sft", dict(cfg, output_dir=str(tmp_path / "resumed"), resume_from_checkpoint=str(ckpt)),
                    progress=False)
    assert metrics["global_step"] == 4
    restored = json.loads((ckpt / "trainer_state.json").read_text())["log_history"]
    assert [r for r in metrics["log_history"] if r.get("step", 0) <= 2 and "loss" in r] == \
        [r for r in restored if "loss" in r]  # steps 1-2 come from the checkpoint, not a rerun
    full = load_file(tmp_path / "full" / "adapter_model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "adapter_model.safetensors")
    assert full.keys() == resumed.keys()
    assert all(torch.allclose(full[k], resumed[k], atol=1e-6) for k in full)


def test_cli_train_pt_with_yaml_and_overrides(tiny_model_dir, tmp_path, monkeypatch, capsys):
    from assistant.cli import main
    from assistant.config import Paths
    from conftest import build_fixture_store

    Paths().db.parent.mkdir(parents=True, exist_ok=True)
    build_fixture_store(Paths().db).close()
    cfg = tmp_path / "pt.yaml"
    cfg.write_text(f"model_name_or_path: {tiny_model_dir}\nmethod: lora\nblock_size: 32\nmax_steps: 50\n"
                   f"output_dir: {tmp_path / 'pt'}\nuse_cpu: true\nholdout_articles: 3\nlogging_steps: 1\n", encoding="utf-8")
    assert main(["train", "pt", "--config", str(cfg), "--max_steps", "3", "--learning_rate", "0.01", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["global_step"] == 3 and metrics["data"]["packing"]["efficiency"] == 1.0
    assert (tmp_path / "pt" / "loss.png").stat().st_size > 1000
    saved = json.loads((tmp_path / "pt" / "metrics.json").read_text())
    assert saved["eval_rows"] >= 1 and saved["data"]["holdout"]["articles"] == 3
    assert saved["eval_perplexity_before"] > 1 and saved["eval_perplexity"] > 1
    from assistant.corpus import open_store
    from assistant.train.data.cpt import law_documents

    with open_store(readonly=True) as store:  # held-out articles are not in the training documents
        held = [store.get(i) for i in saved["data"]["holdout"]["ids"]]
        docs = law_documents(store, exclude_ids={a.id for a in held})
    assert not any(a.text in d for a in held for d in docs)
    assert main(["train", "sft", "--config", str(cfg), "--no_such_option", "1"]) == 2
    assert "no_such_option" in capsys.readouterr().err


sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))


def test_sft_predict_with_generate_scores_the_eval_split(tiny_model_dir, sft_file, tmp_path):
    from assistant.eval.metrics import rouge_bleu
    from assistant.models.loader import load_causal_lm
    from assistant.train.trainer import train

    metrics = train("sft", _config(tiny_model_dir, sft_file, tmp_path, "ptuning", learning_rate=0.3, max_steps=4,
                                   val_size=2, predict_with_generate=True, generation_max_new_tokens=12),
                    progress=False)
    records = [json.loads(line) for line in (tmp_path / "generated_predictions.jsonl").read_text("utf-8").splitlines()]
    assert metrics["eval_rows"] == 2 and metrics["predict"]["n"] == 2 and len(records) == 2
    # the reported scores are the evaluation metrics over exactly these predictions
    expected = rouge_bleu([r["prediction"] for r in records], [r["reference"] for r in records])
    assert {k: metrics["predict"][k] for k in expected} == expected
    # and each prediction is what the saved adapter generates greedily from the same prompt
    model, tok = load_causal_lm(tiny_model_dir, tmp_path)
    ids = tok(records[0]["prompt"], return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id)
    assert tok.decode(out[0, ids["input_ids"].shape[1]:].tolist(), skip_special_tokens=True).strip() \
        == records[0]["prediction"]
    assert records[0]["reference"] and "问：" in records[0]["prompt"]
