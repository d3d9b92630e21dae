"""Domain adaptation of the retrieval models on the question set: ``assistant train reranker|embedder``.

What ``train pt/sft`` do for the answering model, this does for search: a local model learns from the
question set (``{"query", "citations": [{"law", "article"(, "suffix")}]}`` rows; only ``"split": "learn"``
rows when the file has splits) which article answers an everyday question.

* ``reranker``: a sentence-transformers ``CrossEncoder`` (or any BERT-like folder: a score head is added)
  reads (question, article) and is trained listwise: for each question its gold article against hard
  negatives, softmax cross-entropy over the group.
* ``embedder``: a ``SentenceTransformer`` folder is trained with InfoNCE: each question against its gold
  article, the other questions' articles in the batch and its own hard negatives.

Hard negatives come from our own index: the best BM25 articles of the question (``Retriever`` with
``mode="bm25"``) that are not gold, sampled from the top ``negative_pool`` (the very first non-gold hits are
often right too: a question about 离婚冷静期 also matches the article on 离婚登记).

``method``: ``top`` trains only the last ``top_layers`` transformer layers and the head (cheap: gradients stop
there), ``lora`` adds LoRA matrices to every linear layer (merged into the weights when saved), ``full``
trains everything. The output folder is a plain model folder (``--reranker PATH`` / ``--embedder st:PATH``)
with ``train_summary.json`` (what was learned from what, the loss per step) and ``loss.png``.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

KINDS = ("reranker", "embedder")
METHODS = ("top", "lora", "full")
SUMMARY_FILE = "train_summary.json"


class TuneError(ValueError):
    pass


@dataclass
class TuneConfig:
    kind: str  # reranker | embedder
    base: str  # local model folder
    out: str
    data: str | None = None  # question file (default: the packaged lay questions)
    steps: int = 200
    batch_size: int = 8  # questions per step
    negatives: int = 3  # BM25 hard negatives per question
    negative_pool: int = 10  # they are sampled from this many best non-gold BM25 articles
    method: str = "top"
    top_layers: int = 1
    lora_r: int = 8
    lr: float | None = None  # default: 2e-5 full, 1e-4 top, 5e-4 lora
    warmup: float = 0.1  # fraction of steps with a linearly rising learning rate
    max_length: int = 256  # tokens of a (question, article) pair / of an article
    temperature: float = 0.05  # embedder InfoNCE
    limit: int | None = None  # at most this many questions (sampled)
    seed: int = 0
    device: str | None = None  # default: cuda when available, else cpu

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise TuneError(f"kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.method not in METHODS:
            raise TuneError(f"--method {self.method!r}: use one of {', '.join(METHODS)}")
        for name in ("steps", "batch_size", "negative_pool", "top_layers", "lora_r", "max_length"):
            if int(getattr(self, name)) < (0 if name == "steps" else 1):
                raise TuneError(f"--{name.replace('_', '-')} must be {'>= 0' if name == 'steps' else 'positive'}")
        if self.negatives < 0 or self.negatives > self.negative_pool:
            raise TuneError("--negatives must be between 0 and --negative-pool")
        if self.kind == "reranker" and self.negatives == 0:
            raise TuneError("a reranker learns from negatives: --negatives must be at least 1")
        if not Path(self.base).is_dir() or not (Path(self.base) / "config.json").is_file():
            raise TuneError(f"--base {self.base}: not a local model folder (no config.json)")
        if Path(self.out).exists() and any(Path(self.out).iterdir()):
            raise TuneError(f"--out {self.out}: exists and is not empty")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else {"full": 2e-5, "top": 1e-4, "lora": 5e-4}[self.method]


# -- the data -------------------------------------------------------------------------------------------
def learn_rows(path: str | Path) -> tuple[list[dict], dict]:
    """Rows ``{"id", "query", "gold"}`` of the question file to learn from: those with ``"split": "learn"``
    when the file splits its rows, else all; plus counts for the summary. A bad line raises with file, line
    and field (``assistant.data.datasets``)."""
    from assistant.search.learned import read_question_rows

    rows = read_question_rows(path)
    splits = {}
    with open(path, encoding="utf-8") as f:  # the split is this file's own field, not part of the row format
        for n, line in enumerate(f, 1):
            if line.strip():
                record = json.loads(line)
                splits[str(record.get("id", f"row-{n}"))] = record.get("split")
    if set(splits.values()) != {None}:
        kept = [r for r in rows if splits.get(r["id"]) == "learn"]
        return kept, {"rows": len(rows), "learn_rows": len(kept), "split": "learn"}
    return rows, {"rows": len(rows), "learn_rows": len(rows), "split": None}


@dataclass
class Example:
    query: str
    gold: list[str]  # article ids
    negatives: list[str]  # article ids, best BM25 first


def training_examples(rows: list[dict], retriever, config: TuneConfig, progress: bool = True) -> list[Example]:
    """(question, gold ids, BM25 hard negatives) for the rows whose gold the index holds."""
    from tqdm import tqdm

    from assistant.search.learned import gold_rows

    ids = retriever.index.ids
    pairs = gold_rows(rows, retriever.store, ids)
    rng = random.Random(config.seed)
    if config.limit and len(pairs) > config.limit:
        pairs = rng.sample(pairs, config.limit)
    out = []
    for query, gold_row_ids in tqdm(pairs, desc="BM25 hard negatives", unit="q", disable=not progress):
        gold = [ids[r] for r in gold_row_ids]
        negatives = []
        if config.negatives:
            hits = retriever.search(query, top_k=config.negative_pool + len(gold))
            negatives = [h.id for h in hits if h.id not in gold][:config.negative_pool]
        out.append(Example(query, gold, negatives))
    return out


def bm25_retriever(store, index_dir: str | Path | None = None):
    """The home's index searched by BM25 alone (no learned models, no second stages): the hard negatives
    are the articles a word-matching search confuses with the answer."""
    from assistant.search.index import IndexMismatch, IndexMissing
    from assistant.search.retriever import SearchConfig, load_retriever

    cfg = SearchConfig(mode="bm25", learned_ranker=False, query_adapter=False, law_first=False)
    try:
        return load_retriever(store, index_dir, build_if_missing=False, progress=False, config=cfg,
                              rescorer="none", learned=None, reranker=None)
    except IndexMissing:
        raise TuneError("no search index in this home: run `assistant index build` first (its BM25 gives the "
                        "hard negatives)") from None
    except IndexMismatch as exc:
        raise TuneError(f"the search index does not match the corpus ({exc}): run `assistant index update`") from None


# -- the models -----------------------------------------------------------------------------------------
def _device(config: TuneConfig) -> str:
    if config.device:
        return config.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _layer_index(name: str) -> int | None:
    m = re.search(r"\.layers?\.(\d+)\.", name)
    return int(m.group(1)) if m else None


def _freeze_all_but_top(module, top_layers: int, head_words=("classifier", "score", "pooler")) -> None:
    """Only the last ``top_layers`` transformer layers, the final norm and the head keep gradients."""
    names = [n for n, _ in module.named_parameters()]
    layers = sorted({i for i in map(_layer_index, names) if i is not None})
    keep = set(layers[-top_layers:]) if layers else set()
    for name, p in module.named_parameters():
        i = _layer_index(name)
        top = i in keep if i is not None else False
        head = any(w in name.split(".") for w in head_words) or re.search(r"(^|\.)(norm|final_layernorm)\.", name)
        p.requires_grad = bool(top or head)


def _add_lora(module, r: int, classifier: bool):
    from peft import LoraConfig, TaskType, get_peft_model

    cfg = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules="all-linear",
                     task_type=TaskType.SEQ_CLS if classifier else TaskType.FEATURE_EXTRACTION)
    return get_peft_model(module, cfg)


def _count(module) -> dict:
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def _embedder_prefixes(model, name: str) -> tuple[str, str]:
    """Query / document prefixes as ``SentenceTransformerEmbedder`` adds them at search time (the model's
    own prompts, else its family's usual prefixes)."""
    prompts = dict(getattr(model, "prompts", None) or {})
    q = next((prompts[p] for p in ("query", "Retrieval-query") if prompts.get(p)), None)
    d = next((prompts[p] for p in ("document", "passage", "Retrieval-document") if prompts.get(p)), None)
    lowered = name.lower()
    if q is None:
        q = "为这个句子生成表示以用于检索相关文章：" if "bge" in lowered and "zh" in lowered else (
            "query: " if "e5" in lowered else "")
    if d is None:
        d = "passage: " if "e5" in lowered else ""
    return q, d


def _set_inner(module, model) -> None:
    """Replace the transformers model inside a sentence-transformers ``Transformer`` module (``model`` in
    recent versions, with ``auto_model`` a read-only alias; ``auto_model`` in older ones)."""
    for attr in ("model", "auto_model"):
        if attr in module._modules:
            module._modules[attr] = model
            return
    module.auto_model = model


class _Model:
    """The model being trained, behind the one call the loop needs: a loss for a batch of examples."""

    def __init__(self, config: TuneConfig, device: str):
        import torch

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.config = config
        self.kind = config.kind
        if config.kind == "reranker":
            from sentence_transformers import CrossEncoder

            self.st = CrossEncoder(config.base, num_labels=1, device=device, max_length=config.max_length)
        else:
            from sentence_transformers import SentenceTransformer

            self.st = SentenceTransformer(config.base, device=device)
            self.st.max_seq_length = config.max_length
            self.prefixes = _embedder_prefixes(self.st, Path(config.base).name)
        self.hf = self.st[0].auto_model  # the transformers model inside the first module
        if config.method == "top":
            _freeze_all_but_top(self.st, config.top_layers)
        elif config.method == "lora":
            self.hf = _add_lora(self.hf, config.lora_r, config.kind == "reranker")
            _set_inner(self.st[0], self.hf)
        self.st.to(device)
        self.st.train()
        self.params = [p for p in self.st.parameters() if p.requires_grad]
        self.torch = torch
        self.device = device

    def loss(self, batch: list[tuple[str, str, list[str]]]):
        """``batch``: (question, gold passage, negative passages) with the same number of negatives each."""
        F = self.torch.nn.functional
        from sentence_transformers.util import batch_to_device

        if self.kind == "reranker":
            pairs = [(q, p) for q, pos, negs in batch for p in [pos, *negs]]
            feats = batch_to_device(self.st.preprocess(pairs), self.device)
            scores = self.st(feats)["scores"].float().view(len(batch), -1)
            target = self.torch.zeros(len(batch), dtype=self.torch.long, device=scores.device)
            return F.cross_entropy(scores, target)
        qp, dp = self.prefixes
        queries = [qp + q for q, _, _ in batch]
        passages = [dp + p for _, pos, negs in batch for p in [pos, *negs]]
        group = len(passages) // len(batch)
        qv = self.st(batch_to_device(self.st.preprocess(queries), self.device))["sentence_embedding"]
        dv = self.st(batch_to_device(self.st.preprocess(passages), self.device))["sentence_embedding"]
        qv, dv = F.normalize(qv.float(), dim=-1), F.normalize(dv.float(), dim=-1)
        sim = qv @ dv.T / self.config.temperature
        # a passage that is another question's gold but also this question's (same article) is no negative
        same = self.torch.tensor([[passages[j] == batch[i][1] and j != i * group for j in range(len(passages))]
                                  for i in range(len(batch))], device=sim.device)
        sim = sim.masked_fill(same, -1e4)
        target = self.torch.arange(len(batch), device=sim.device) * group
        return F.cross_entropy(sim, target)

    def save(self, out: Path) -> None:
        if self.config.method == "lora":  # fold the adapters in: the folder is a plain model
            _set_inner(self.st[0], self.hf.merge_and_unload())
        for p in self.st.parameters():
            p.requires_grad = True
        self.st.eval()
        self.st.save(str(out))


def train_retrieval_model(config: TuneConfig, store, index_dir: str | Path | None = None,
                          progress: bool = True) -> dict:
    """Fine-tune ``config.base`` on the question set; returns the summary written next to the model."""
    import numpy as np
    import torch
    from tqdm import tqdm

    from assistant.search.learned import PACKAGED_QUESTIONS
    from assistant.search.rerank import passage_text, query_text
    from assistant.threads import limit_torch_threads

    config.validate()
    data = Path(config.data) if config.data else PACKAGED_QUESTIONS
    if not data.is_file():
        raise TuneError(f"--data {data}: file not found")
    t0 = time.perf_counter()
    rows, counts = learn_rows(data)
    retriever = bm25_retriever(store, index_dir)
    examples = training_examples(rows, retriever, config, progress=progress)
    if not examples:
        raise TuneError(f"{data}: no question whose gold article is in the index (of {len(rows)} rows)")
    texts = {}
    wanted = {i for e in examples for i in e.gold + e.negatives}
    for doc_id, art in retriever.store.get_many(sorted(wanted)).items():
        texts[doc_id] = passage_text(art)
    t_data = time.perf_counter() - t0

    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    limit_torch_threads()
    device = _device(config)
    model = _Model(config, device)
    params = _count(model.st)
    optimizer = torch.optim.AdamW(model.params, lr=config.learning_rate, weight_decay=0.01)
    warm = max(1, int(config.warmup * config.steps))
    # linear warm-up, then linear decay to 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warm if s < warm else max(0.0, (config.steps - s) / max(config.steps - warm, 1)))
    rng = random.Random(config.seed)
    order: list[int] = []
    history: list[dict] = []
    t1 = time.perf_counter()
    bar = tqdm(total=config.steps, desc=f"train {config.kind}", unit="step", disable=not progress)
    for step in range(1, config.steps + 1):
        batch = []
        while len(batch) < config.batch_size:
            if not order:
                order = list(range(len(examples)))
                rng.shuffle(order)
            e = examples[order.pop()]
            negs = rng.sample(e.negatives, min(config.negatives, len(e.negatives)))
            for _ in range(50 * config.negatives):  # too few BM25 hits: other questions' articles fill in
                if len(negs) >= config.negatives:
                    break
                other = examples[rng.randrange(len(examples))].gold[0]
                if other not in e.gold and other not in negs:
                    negs.append(other)
            pos = rng.choice(e.gold)
            batch.append((query_text(e.query), texts[pos], [texts[n] for n in negs if n in texts]))
        width = min(len(b[2]) for b in batch)
        batch = [(q, p, n[:width]) for q, p, n in batch]
        loss = model.loss(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.params, 1.0)
        optimizer.step()
        scheduler.step()
        value = float(loss.detach())
        history.append({"step": step, "loss": round(value, 5), "lr": scheduler.get_last_lr()[0]})
        bar.update()
        bar.set_postfix(loss=f"{value:.4f}")
    bar.close()
    t_train = time.perf_counter() - t1
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out)
    from assistant.train.plots import loss_curve

    png = loss_curve(history, out / "loss.png", title=f"train {config.kind}: {Path(config.base).name}, "
                                                        f"{config.method}")
    losses = [h["loss"] for h in history]
    tail = max(1, len(losses) // 10)
    summary = {
        "kind": config.kind, "base": str(Path(config.base).resolve()), "out": str(out.resolve()),
        "data": str(data), **counts, "questions": len(examples),
        "negatives_from": f"BM25 over the index in {retriever.index.folder} (top {config.negative_pool} "
                          "non-gold, sampled)",
        "method": config.method, "steps": config.steps, "device": device, "parameters": params,
        "loss_first": round(float(np.mean(losses[:tail])), 5) if losses else None,
        "loss_last": round(float(np.mean(losses[-tail:])), 5) if losses else None,
        "seconds_data": round(t_data, 1), "seconds_train": round(t_train, 1),
        "loss_png": str(png) if png else None, "config": asdict(config), "log_history": history,
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return summary
