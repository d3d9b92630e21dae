"""Continued-pretraining (CPT) data: statute documents from the article store, optional general text mixed
in at a ratio (against forgetting), EOS between documents, packed into fixed-length blocks.

A *document* is one law: its title line, then each article preceded by the part/chapter/section headings
whenever they change - the way the statute reads. Documents are shuffled (seeded), tokenized, joined with
EOS after each one and cut into ``block_size`` blocks. The last partial block is dropped by default
(``keep_last=False``: 100% packing efficiency) or padded (pad positions get label -100).
Packing efficiency = non-pad tokens / (blocks × block_size).
"""
from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.train.data.masking import IGNORE_INDEX


def law_documents(store, laws: list[str] | None = None, in_force_only: bool = True,
                  exclude_ids: set[str] | None = None) -> list[str]:
    """One text per law, articles in order with their headings."""
    names = laws or store.law_names()
    docs: list[str] = []
    for law in names:
        arts = [a for a in store.articles(law=law, in_force_only=in_force_only)
                if not exclude_ids or a.id not in exclude_ids]
        if not arts:
            continue
        lines = [law]
        last_headings: tuple = ()
        for art in arts:
            headings = tuple(h for h in (art.part, art.chapter, art.section) if h)
            if headings != last_headings:
                lines += [h for i, h in enumerate(headings) if i >= len(last_headings) or last_headings[i] != h]
                last_headings = headings
            lines.append(f"{art.number_text} {art.text}")
        docs.append("\n".join(lines))
    return docs


def read_text_documents(paths: list[str | Path]) -> list[str]:
    """General text: .jsonl files (one ``{"text": …}`` per line) or plain text split on blank lines."""
    docs: list[str] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            raise FileNotFoundError(f"general text file {path} not found")
        if path.suffix == ".jsonl":
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    text = json.loads(line).get("text")
                except (json.JSONDecodeError, AttributeError) as exc:
                    raise ValueError(f"{path}:{lineno}: expected a JSON object with a 'text' field") from exc
                if not isinstance(text, str):
                    raise ValueError(f"{path}:{lineno}: field 'text' missing or not a string")
                docs.append(text)
        else:
            docs += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return docs


def mix_general(domain: list[str], general: list[str], general_ratio: float, seed: int = 0) -> list[str]:
    """Domain documents plus general ones so that general text is ~``general_ratio`` of all characters
    (general documents are repeated when there are too few, subsampled when too many). Shuffled."""
    if not 0 <= general_ratio < 1:
        raise ValueError(f"general_ratio must be in [0, 1), got {general_ratio}")
    rng = random.Random(seed)
    docs = list(domain)
    if general and general_ratio > 0:
        want = general_ratio / (1 - general_ratio) * sum(map(len, domain))
        pool, got = [], 0
        order = list(general)
        while got < want:
            rng.shuffle(order)
            for d in order:
                if got >= want:
                    break
                pool.append(d)
                got += len(d)
        docs += pool
    rng.shuffle(docs)
    return docs


@dataclass
class PackingReport:
    documents: int
    tokens: int          # document tokens + one EOS per document
    blocks: int
    block_size: int
    pad_tokens: int
    dropped_tokens: int  # tail tokens not used (keep_last=False)

    @property
    def efficiency(self) -> float:
        total = self.blocks * self.block_size
        return (total - self.pad_tokens) / total if total else 0.0

    def to_dict(self) -> dict:
        return dict(asdict(self), efficiency=round(self.efficiency, 4))


def pack_documents(docs: list[str], tokenizer, block_size: int, keep_last: bool = False,
                   progress: bool = False) -> tuple[list[dict], PackingReport]:
    """Rows ``{"input_ids", "attention_mask", "labels"}`` of exactly ``block_size`` tokens."""
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("the tokenizer has no eos_token; CPT separates documents with it")
    stream: list[int] = []
    it = docs
    if progress:
        from tqdm import tqdm

        it = tqdm(docs, desc="tokenizing", unit="doc")
    for doc in it:
        stream += tokenizer.encode(doc, add_special_tokens=False) + [eos]
    rows: list[dict] = []
    full = len(stream) // block_size
    for i in range(full):
        ids = stream[i * block_size:(i + 1) * block_size]
        rows.append({"input_ids": ids, "attention_mask": [1] * block_size, "labels": list(ids)})
    tail = stream[full * block_size:]
    pad_tokens = dropped = 0
    if tail and keep_last:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        pad_tokens = block_size - len(tail)
        rows.append({"input_ids": tail + [pad_id] * pad_tokens,
                     "attention_mask": [1] * len(tail) + [0] * pad_tokens,
                     "labels": tail + [IGNORE_INDEX] * pad_tokens})
    else:
        dropped = len(tail)
    return rows, PackingReport(len(docs), len(stream), len(rows), block_size, pad_tokens, dropped)


# --- assistant data cpt: the documents written to files, with a held-out set ------------------------------

def split_articles(store, laws: list[str] | None = None, kinds: list[str] | None = None, *,
                   holdout: int = 0, holdout_ids: set[str] | None = None, exclude_ids: set[str] | None = None,
                   seed: int = 0) -> tuple[list[str], list[str], dict]:
    """(training documents, held-out documents, info). Training documents: one per law of ``laws`` (default
    every law of the store: the default corpus plus whatever collections - interpretations, regulations - were
    imported), of the document kinds ``kinds`` (法律 / 司法解释 / 行政法规 …; default all). Held out: the
    articles of ``holdout_ids`` that the store has (e.g. the question set's held-out articles) plus ``holdout``
    more sampled articles, each its own document, never in the training text. ``exclude_ids`` (an evaluation
    set's gold) are in neither."""
    import random

    names = laws or store.law_names()
    exclude = set(exclude_ids or ())
    chosen = []
    kinds_seen: dict[str, int] = {}
    for law in names:
        arts = list(store.articles(law=law, in_force_only=True))
        if not arts:
            continue
        kind = arts[0].kind or "unknown"
        if kinds and kind not in kinds:
            continue
        kinds_seen[kind] = kinds_seen.get(kind, 0) + 1
        chosen.append(law)
    pool = [a for law in chosen for a in store.articles(law=law, in_force_only=True) if a.id not in exclude]
    held = [a for a in pool if holdout_ids and a.id in holdout_ids]
    if holdout:
        rest = [a for a in pool if not holdout_ids or a.id not in holdout_ids]
        held += random.Random(seed).sample(rest, min(holdout, max(0, len(rest) - 1)))
    held_ids = {a.id for a in held}
    docs = law_documents(store, laws=chosen, exclude_ids=held_ids | exclude)
    held_docs = [f"{a.law}\n{a.number_text} {a.text}" for a in held]
    info = {"laws": len(chosen), "kinds": kinds_seen, "documents": len(docs),
            "characters": sum(map(len, docs)), "heldout_articles": len(held),
            "excluded_articles": len(exclude & {a.id for law in chosen for a in store.articles(law=law)})}
    return docs, held_docs, info


def write_documents(docs: list[str], path) -> Path:
    """``{"text": …}`` per line: what ``general_text`` / ``documents`` of the pt config read."""
    from assistant.jsonio import write_json_lines

    return write_json_lines(({"text": d} for d in docs), path)


def perplexity(model, rows: list[dict], batch_size: int = 1) -> tuple[float, int]:
    """exp(mean token loss) of ``model`` over packed ``rows`` (label -100 ignored), and the tokens scored."""
    import math

    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            device = next(model.parameters()).device
            ids = torch.tensor([r["input_ids"] for r in chunk], device=device)
            mask = torch.tensor([r["attention_mask"] for r in chunk], device=device)
            labels = torch.tensor([r["labels"] for r in chunk], device=device)
            logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
            target = labels[:, 1:]
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                                     ignore_index=IGNORE_INDEX, reduction="sum")
            total += loss.item()
            count += int((target != IGNORE_INDEX).sum())
    return (math.exp(min(total / count, 50)) if count else float("nan")), count
