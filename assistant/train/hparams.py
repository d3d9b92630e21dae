"""Training configuration as dataclasses, parsed by ``HfArgumentParser`` from a YAML file plus
``--key value`` overrides (later wins): ``assistant train sft --config cfg.yaml --learning_rate 1e-4``.

Four groups: :class:`ModelArguments`, :class:`DataArguments`, :class:`MethodArguments` and the
Hugging Face ``TrainingArguments`` (optimiser ``optim``, ``learning_rate``, schedule
``lr_scheduler_type``/``warmup_ratio``, precision ``bf16``/``fp16``, ``gradient_checkpointing``,
``label_smoothing_factor``, ``output_dir``, ``resume_from_checkpoint`` …).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ModelArguments:
    model_name_or_path: str = field(metadata={"help": "local base model folder (nothing is downloaded)"})
    adapter_name_or_path: str | None = field(default=None, metadata={
        "help": "a LoRA adapter to merge into the base before training (e.g. SFT on top of a CPT LoRA)"})
    template: str = field(default="chatglm2", metadata={"help": "chatglm2 | chat_template | auto"})
    trust_remote_code: bool | None = field(default=None, metadata={
        "help": "run the model folder's own code (ChatGLM2); default: only when its config has auto_map"})
    quantize: int | None = field(default=None, metadata={"help": "4 or 8: load the base with bitsandbytes (GPU)"})
    precision: str = field(default="auto", metadata={
        "help": "auto | bf16 | fp16 | fp32. auto: bf16 where the hardware runs it natively (bf16 GPU, CPU with "
                "AVX512-BF16/AMX), else fp32. bf16 with LoRA / P-Tuning keeps the frozen base in bf16 "
                "(trainable weights stay fp32); an explicit --bf16/--fp16 flag wins"})


@dataclass
class DataArguments:
    datasets: list[str] = field(default_factory=list, metadata={
        "help": "SFT: registered names, paths or name=path entries"})
    dataset_weights: list[float] | None = field(default=None, metadata={"help": "mixing weights, one per dataset"})
    dataset_registry: str | None = field(default=None, metadata={"help": "YAML registry of named datasets"})
    max_samples: int | None = field(default=None, metadata={"help": "size of the mixture (default: sum of sizes)"})
    val_size: float = field(default=0.0, metadata={"help": "share (<1) or count (>=1) held out for evaluation"})
    predict_with_generate: bool = field(default=False, metadata={
        "help": "SFT: after training, greedy-generate every eval example and score it with ROUGE-1/2/L and "
                "BLEU-4 (as ChatGLM2's ptuning); writes generated_predictions.jsonl"})
    generation_max_new_tokens: int = field(default=128, metadata={"help": "length limit for predict_with_generate"})
    max_source_length: int = 512
    max_target_length: int = 256
    source_truncation: str = field(default="right", metadata={"help": "right (recipe) | left (keep the question)"})
    # continued pretraining
    store: str | None = field(default=None, metadata={"help": "article store for CPT (default: Paths().db)"})
    laws: list[str] | None = field(default=None, metadata={"help": "CPT: only these laws"})
    max_documents: int | None = field(default=None, metadata={"help": "CPT: at most this many law documents"})
    general_text: list[str] | None = field(default=None, metadata={"help": "CPT: general .txt/.jsonl files"})
    documents: list[str] | None = field(default=None, metadata={
        "help": "CPT: document files written by `assistant data cpt` (train.jsonl), used instead of the store"})
    eval_documents: str | None = field(default=None, metadata={
        "help": "CPT: held-out documents (`assistant data cpt`'s heldout.jsonl): the eval set, perplexity on them"})
    general_ratio: float = field(default=0.0, metadata={"help": "CPT: share of general text in the mix"})
    holdout_articles: float = field(default=0.0, metadata={
        "help": "CPT: share of articles kept out of training; the eval set (held-out perplexity on unseen articles)"})
    block_size: int = 512
    keep_last_block: bool = False


@dataclass
class MethodArguments:
    method: str = field(default="lora", metadata={"help": "lora | ptuning | full"})
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_dropout: float = 0.05
    lora_target: list[str] | None = field(default=None, metadata={
        "help": "module names; default per architecture: attention + MLP projections (q/k/v/o_proj, gate/up/down_proj …); 'all'"})
    pre_seq_len: int = field(default=16, metadata={"help": "P-Tuning v2: virtual tokens per layer"})
    prefix_projection: bool = field(default=False, metadata={"help": "P-Tuning v2: reparametrise with an MLP"})
    prefix_hidden_size: int = 512
    prefix_init_text: str | None = field(default=None, metadata={
        "help": "P-Tuning v2: start the prefix as the base model's key/value states of the first pre_seq_len "
                "tokens of this text (e.g. a statute's text) instead of random; '@FILE' reads it from a file"})


METHODS = ("lora", "ptuning", "full")


def yaml_to_argv(data: dict) -> list[str]:
    """A YAML mapping as command-line flags (lists become several values, booleans true/false)."""
    argv: list[str] = []
    for key, value in data.items():
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue  # unset / empty list: keep the dataclass default
        argv.append(f"--{key}")
        if isinstance(value, (list, tuple)):
            argv += [str(v) for v in value]
        elif isinstance(value, bool):
            argv.append("true" if value else "false")
        else:
            argv.append(str(value))
    return argv


def parse_config(config: str | Path | dict | None, overrides: list[str] | None = None):
    """(ModelArguments, DataArguments, MethodArguments, TrainingArguments) from YAML/dict + overrides."""
    from transformers import HfArgumentParser, TrainingArguments

    data: dict = {}
    if isinstance(config, dict):
        data = dict(config)
    elif config:
        import yaml

        path = Path(config)
        if not path.is_file():
            raise FileNotFoundError(f"config {path} not found")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of option names to values")
    data.setdefault("output_dir", "runs/train")
    data.setdefault("report_to", "none")
    data.setdefault("dataloader_num_workers", 0)  # rows are pre-tokenized; worker processes only cost RAM
    parser = HfArgumentParser((ModelArguments, DataArguments, MethodArguments, TrainingArguments))
    argv = yaml_to_argv(data) + list(overrides or [])
    model_args, data_args, method_args, training_args, rest = parser.parse_args_into_dataclasses(
        args=argv, return_remaining_strings=True)
    if rest:
        raise ValueError(f"unknown options: {' '.join(rest)}")
    if method_args.method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method_args.method!r}")
    return model_args, data_args, method_args, training_args
