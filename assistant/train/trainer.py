"""Continued pretraining (``pt``) and supervised fine-tuning (``sft``) on the Hugging Face ``Trainer``.

What a run writes to ``output_dir``: the trained weights only (LoRA or prefix adapter + its config, the
full model for ``method: full``, ChatGLM2's prefix encoder alone for its native P-Tuning), the tokenizer,
``train_config.json`` (every argument), ``metrics.json`` (losses, eval perplexity, parameter counts, data
and packing figures, tokens/s) and ``loss.png``. Intermediate ``checkpoint-N`` folders hold the same
trained weights plus optimiser/scheduler state, and ``resume_from_checkpoint`` continues from one.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch


class RowsDataset(torch.utils.data.Dataset):
    """Pre-tokenized rows (dicts of int lists)."""

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]


def _split(rows: list[dict], val_size: float, seed: int) -> tuple[list[dict], list[dict]]:
    if not val_size or len(rows) < 2:
        return rows, []
    import random

    n_val = int(val_size) if val_size >= 1 else max(1, round(len(rows) * val_size))
    n_val = min(n_val, len(rows) - 1)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    val_idx = set(order[:n_val])
    return [r for i, r in enumerate(rows) if i not in val_idx], [r for i, r in enumerate(rows) if i in val_idx]


def load_model_for_training(model_args, method_args, training_args):
    """(model with only its method's parameters trainable, tokenizer)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from assistant.models.loader import _quantization_config, _wants_remote_code, resolve_device
    from assistant.train.methods import apply_method, load_for_native_ptuning

    path = Path(model_args.model_name_or_path)
    if not path.exists():
        raise FileNotFoundError(f"model {path} does not exist (only local folders are loaded)")
    remote = _wants_remote_code(path, model_args.trust_remote_code)
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=remote)
    # weights that train stay fp32 (the Trainer's bf16/fp16 flags run autocast on top); a frozen base under
    # LoRA / P-Tuning in bf16 precision is loaded in bf16: half the memory, and no fp32->bf16 cast of every
    # weight in every forward pass
    dtype = torch.float32
    if training_args.bf16 and method_args.method != "full" and model_args.quantize is None:
        dtype = torch.bfloat16
    kwargs: dict = {"dtype": dtype, "trust_remote_code": remote}
    qconfig = _quantization_config(model_args.quantize, resolve_device(None), torch.bfloat16)
    if qconfig is not None:
        kwargs.update(quantization_config=qconfig, device_map={"": resolve_device(None)})
    if method_args.method == "ptuning" and remote and _config_has(path, "pre_seq_len"):
        model = load_for_native_ptuning(str(path), method_args, dtype=dtype)
        return model, tokenizer
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    if model_args.adapter_name_or_path:  # e.g. SFT on top of a CPT LoRA: fold it in first
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, model_args.adapter_name_or_path).merge_and_unload()
    if qconfig is not None:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, training_args.gradient_checkpointing)
    if training_args.gradient_checkpointing and method_args.method != "full":
        model.enable_input_require_grads()  # frozen embeddings would otherwise cut the checkpointed graph
    for p in model.parameters():
        p.requires_grad_(False)
    if (method_args.prefix_init_text or "").startswith("@"):
        method_args.prefix_init_text = Path(method_args.prefix_init_text[1:]).read_text(encoding="utf-8")
    model = apply_method(model, method_args, tokenizer)
    if dtype != torch.float32:  # PEFT keeps adapter weights fp32; a prefix encoder may follow the base dtype
        for p in model.parameters():
            if p.requires_grad and p.dtype != torch.float32:
                p.data = p.data.float()
    return model, tokenizer


def apply_precision(model_args, training_args) -> str:
    """Set the Trainer's bf16/fp16 flags from ``precision`` (auto: detect; see adapters.training_precision)
    unless a flag was given explicitly. Returns the precision used."""
    from assistant.models.loader import training_precision

    if training_args.bf16 or training_args.fp16:
        return "bf16" if training_args.bf16 else "fp16"
    device = "cuda" if torch.cuda.is_available() and not training_args.use_cpu else "cpu"
    precision = training_precision(model_args.precision, device)
    if device == "cpu" and precision == "fp16":
        raise ValueError("fp16 training needs a GPU; use precision bf16 or fp32 on CPU")
    training_args.bf16 = precision == "bf16"
    training_args.fp16 = precision == "fp16"
    return precision


def _config_has(path: Path, key: str) -> bool:
    cfg = path / "config.json"
    return cfg.is_file() and key in json.loads(cfg.read_text(encoding="utf-8"))


def build_pt_rows(data_args, tokenizer, seed: int = 0, progress: bool = True):
    """(train rows, info, held-out eval rows). With ``holdout_articles`` a seeded share of the chosen laws'
    articles is left out of the training documents and packed (padded, not dropped) as the eval set."""
    import random

    from assistant.corpus import open_store
    from assistant.train.data.cpt import law_documents, pack_documents

    if data_args.documents:  # the files of `assistant data cpt`: corpus + imported collections, held-out set apart
        return _pt_rows_from_files(data_args, tokenizer, seed, progress)
    store = open_store(data_args.store, readonly=True) if data_args.store else open_store(readonly=True)
    try:
        if store.count() == 0:
            raise ValueError("the article store is empty; run `assistant corpus import --default` first")
        laws = data_args.laws or store.law_names()
        if data_args.laws:
            resolver = store.resolver()
            laws = [resolver.resolve(n) for n in data_args.laws]
        if data_args.max_documents:
            laws = laws[: data_args.max_documents]
        held: list = []
        if data_args.holdout_articles:
            pool = [a for law in laws for a in store.articles(law=law, in_force_only=True)]
            n = int(data_args.holdout_articles) if data_args.holdout_articles >= 1 \
                else max(1, round(len(pool) * data_args.holdout_articles))
            held = random.Random(seed).sample(pool, min(n, len(pool) - 1))
        docs = law_documents(store, laws=laws, exclude_ids={a.id for a in held})
    finally:
        store.close()
    rows, info = _packed_training_blocks(docs, data_args, tokenizer, seed, progress)
    eval_rows: list[dict] = []
    if held:
        eval_rows, held_report = pack_documents([f"{a.law}\n{a.number_text} {a.text}" for a in held], tokenizer,
                                                data_args.block_size, keep_last=True)
        info["holdout"] = {"articles": len(held), "blocks": held_report.blocks,
                           "ids": [a.id for a in held][:50]}
    return rows, info, eval_rows


def _packed_training_blocks(docs: list[str], data_args, tokenizer, seed: int, progress: bool):
    """The law documents mixed with the general text and packed into blocks: (rows, info)."""
    from assistant.train.data.cpt import mix_general, pack_documents, read_text_documents

    general = read_text_documents(data_args.general_text) if data_args.general_text else []
    mixed = mix_general(docs, general, data_args.general_ratio, seed=seed)
    rows, report = pack_documents(mixed, tokenizer, data_args.block_size, keep_last=data_args.keep_last_block,
                                  progress=progress)
    if not rows:
        raise ValueError(f"no full block of {data_args.block_size} tokens; lower block_size or add text")
    return rows, {"law_documents": len(docs), "general_documents": len(mixed) - len(docs),
                  "packing": report.to_dict()}


def _pt_rows_from_files(data_args, tokenizer, seed: int, progress: bool):
    from assistant.train.data.cpt import pack_documents, read_text_documents

    docs = read_text_documents(data_args.documents)
    rows, info = _packed_training_blocks(docs, data_args, tokenizer, seed, progress)
    info = {"documents_files": list(data_args.documents), **info}
    eval_rows: list[dict] = []
    if data_args.eval_documents:
        held = read_text_documents([data_args.eval_documents])
        eval_rows, held_report = pack_documents(held, tokenizer, data_args.block_size, keep_last=True)
        info["holdout"] = {"documents": len(held), "blocks": held_report.blocks, "file": data_args.eval_documents}
    return rows, info, eval_rows


def build_sft_rows(data_args, model_args, tokenizer, seed: int = 0, progress: bool = True):
    from assistant.train.data.masking import MaskingConfig, encode_example, supervised_token_share
    from assistant.train.data.registry import load_mixture

    if not data_args.datasets:
        raise ValueError("no SFT datasets given (datasets: [name or path, ...])")
    examples, sizes = load_mixture(data_args.datasets, data_args.dataset_weights, data_args.dataset_registry,
                                   max_samples=data_args.max_samples, seed=seed)
    cfg = MaskingConfig(model_args.template, data_args.max_source_length, data_args.max_target_length,
                        data_args.source_truncation)
    it = examples
    if progress:
        from tqdm import tqdm

        it = tqdm(examples, desc="encoding", unit="example")
    rows = [encode_example(ex, tokenizer, cfg) for ex in it]
    from assistant.answer.prompt import SHORT_INSTRUCTION

    # which of the app's prompts the model learns: the small-model one (the question set's file) or the full
    # one; the transformers backend serves an adapter the prompt it was trained on (prompt_style.json)
    short = sum(ex.system == SHORT_INSTRUCTION for ex in examples)
    return rows, {"datasets": sizes, "examples": len(rows),
                  "supervised_token_share": round(supervised_token_share(rows), 4),
                  "prompt_style": "short" if short * 2 > len(examples) else "full"}


def predict_with_generate(model, tokenizer, rows: list[dict], path: Path, max_new_tokens: int = 128,
                          progress: bool = True) -> dict:
    """Greedy-decode each eval example from its prompt (the positions whose label is -100 before the first
    learned token) and score the continuations against the learned target with the evaluation metrics.

    One example at a time, so no padding enters the prompt; prefix-tuning models go through
    ``prefix_generate`` (PEFT's own generate drops the prefix under transformers 5)."""
    from assistant.eval.metrics import rouge_bleu
    from assistant.models.loader import prefix_generate

    generate = model.generate
    if getattr(getattr(model, "active_peft_config", None), "peft_type", None) is not None and \
            str(model.active_peft_config.peft_type).endswith("PREFIX_TUNING"):
        generate = lambda **kw: prefix_generate(model, **kw)  # noqa: E731
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    predictions, references, records = [], [], []
    it = rows
    if progress:
        from tqdm import tqdm

        it = tqdm(rows, desc="predict_with_generate", unit="example")
    with torch.no_grad():
        for row in it:
            labels = row["labels"]
            start = next((i for i, label in enumerate(labels) if label != -100), len(labels))
            prompt = torch.tensor([row["input_ids"][:start]], device=device)
            target = [t for t in labels[start:] if t != -100]
            out = generate(input_ids=prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=max_new_tokens,
                           do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            prediction = tokenizer.decode(out[0, prompt.shape[1]:].tolist(), skip_special_tokens=True).strip()
            reference = tokenizer.decode(target, skip_special_tokens=True).strip()
            predictions.append(prediction)
            references.append(reference)
            records.append({"prompt": tokenizer.decode(row["input_ids"][:start], skip_special_tokens=True),
                            "prediction": prediction, "reference": reference})
    if was_training:
        model.train()
    with path.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return {**rouge_bleu(predictions, references), "n": len(records), "file": str(path)}


def _trainer_class():
    from transformers import Trainer

    class AdapterTrainer(Trainer):
        """Saves only ChatGLM2's prefix encoder for native P-Tuning (PEFT models already save adapters)."""

        def _save(self, output_dir=None, state_dict=None):
            model = self.model
            if getattr(model, "_native_ptuning", False):
                out = Path(output_dir or self.args.output_dir)
                out.mkdir(parents=True, exist_ok=True)
                state = {k: v for k, v in model.state_dict().items() if k.startswith("transformer.prefix_encoder.")}
                torch.save(state, out / "pytorch_model.bin")
                model.config.save_pretrained(out)
                if self.processing_class is not None:
                    self.processing_class.save_pretrained(out)
                return
            super()._save(output_dir, state_dict)

    return AdapterTrainer


def run_training(stage: str, model_args, data_args, method_args, training_args, progress: bool = True) -> dict:
    """Train, save trained weights + tokenizer, write metrics.json and loss.png; returns the metrics."""
    from transformers import set_seed

    from assistant.threads import limit_torch_threads
    from assistant.train.data.masking import make_collator
    from assistant.train.methods import count_parameters
    from assistant.train.plots import loss_curve
    from assistant.train.templates import check_template

    if stage not in ("pt", "sft"):
        raise ValueError(f"stage must be pt or sft, got {stage!r}")
    check_template(model_args.template)
    limit_torch_threads()
    set_seed(training_args.seed)
    training_args.disable_tqdm = not progress
    precision = apply_precision(model_args, training_args)
    model, tokenizer = load_model_for_training(model_args, method_args, training_args)
    if stage == "pt":
        rows, data_info, held_rows = build_pt_rows(data_args, tokenizer, training_args.seed, progress)
    else:
        rows, data_info = build_sft_rows(data_args, model_args, tokenizer, training_args.seed, progress)
        held_rows = []
    train_rows, val_rows = _split(rows, 0 if held_rows else data_args.val_size, training_args.seed)
    val_rows = held_rows or val_rows
    if val_rows and training_args.eval_strategy == "no":
        training_args.eval_strategy = "epoch"
    params = count_parameters(model)
    out = Path(training_args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps({
        "stage": stage, "model": dataclasses.asdict(model_args), "data": dataclasses.asdict(data_args),
        "method": dataclasses.asdict(method_args), "training": training_args.to_dict(),
    }, ensure_ascii=False, indent=2, default=str), encoding="utf-8")

    trainer = _trainer_class()(
        model=model, args=training_args, train_dataset=RowsDataset(train_rows),
        eval_dataset=RowsDataset(val_rows) if val_rows else None,
        data_collator=make_collator(tokenizer, model), processing_class=tokenizer,
    )
    if not progress:  # --json: stdout carries only the result; Trainer would print every log dict
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    before = None
    if val_rows and not training_args.resume_from_checkpoint:  # the starting point of the eval curve
        before = trainer.evaluate()["eval_loss"]
    start = time.perf_counter()
    resume = training_args.resume_from_checkpoint or None
    if isinstance(resume, str) and resume.lower() in ("true", "last"):  # the output dir's newest checkpoint
        resume = True
    result = trainer.train(resume_from_checkpoint=resume)
    elapsed = time.perf_counter() - start
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))

    tokens_per_row = sum(sum(r["attention_mask"]) for r in train_rows) / max(1, len(train_rows))
    rows_seen = trainer.state.global_step * training_args.per_device_train_batch_size \
        * training_args.gradient_accumulation_steps * max(1, training_args.world_size)
    metrics = {
        "stage": stage, "method": method_args.method, "model": model_args.model_name_or_path,
        "output_dir": str(out), "parameters": params, "data": data_info, "precision": precision,
        "threads": torch.get_num_threads(), "gradient_checkpointing": bool(training_args.gradient_checkpointing),
        "peak_rss_mb": _peak_rss_mb(),
        "train_rows": len(train_rows), "eval_rows": len(val_rows),
        "global_step": trainer.state.global_step, "train_loss": result.training_loss,
        "train_seconds": round(elapsed, 2),
        "tokens_per_second": round(tokens_per_row * rows_seen / elapsed, 1) if elapsed > 0 else None,
        "first_logged_loss": next((r["loss"] for r in trainer.state.log_history if "loss" in r), None),
        "last_logged_loss": next((r["loss"] for r in reversed(trainer.state.log_history) if "loss" in r), None),
        "log_history": trainer.state.log_history,
    }
    if val_rows:
        ev = trainer.evaluate()
        metrics["eval_loss"] = ev["eval_loss"]
        if before is not None:
            metrics["eval_loss_before"] = before
            metrics["eval_perplexity_before"] = math.exp(min(before, 50))
        metrics["eval_perplexity"] = math.exp(min(ev["eval_loss"], 50))
    if stage == "sft" and val_rows and data_args.predict_with_generate:
        metrics["predict"] = predict_with_generate(model, tokenizer, val_rows, out / "generated_predictions.jsonl",
                                                   data_args.generation_max_new_tokens, progress=progress)
    if stage == "sft":
        (out / "prompt_style.json").write_text(json.dumps({"prompt_style": data_info["prompt_style"]}),
                                               encoding="utf-8")
    (out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    png = loss_curve(trainer.state.log_history, out / "loss.png", title=f"{stage} ({method_args.method})")
    metrics["loss_png"] = str(png) if png else None
    return metrics


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # not POSIX
        return None
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB


def train(stage: str, config=None, overrides: list[str] | None = None, progress: bool = True) -> dict:
    from assistant.train.hparams import parse_config

    return run_training(stage, *parse_config(config, overrides), progress=progress)
