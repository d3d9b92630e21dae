"""Datasets by name, and mixing several by weight.

A registry maps a name to a file and its format. It comes from a YAML file (``dataset_registry`` in the
training config)::

    law_alpaca:
      path: ../shared/eval/sft_law_alpaca_sample.jsonl   # relative: to the YAML file if it exists there, else to the working directory
      format: alpaca
    corpus_sft:
      path: runs/data/corpus_sft.jsonl

or from a Python dict of the same shape. A dataset entry in a config may also be a path itself
(``data/x.jsonl``) or ``name=path`` to register a file at run time without a registry file - user data
such as the shared dev sample is referenced where it lies, never copied into the repository.

Mixing: with weights w_i, dataset i contributes round(w_i / sum(w) * N) examples where N is the sum of
the datasets' sizes (or ``max_samples``); a dataset asked for more examples than it has is repeated
(sampled with replacement), one asked for fewer is subsampled. Deterministic for a given seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from assistant.train.data.formats import SFTExample, load_sft_file


@dataclass
class DatasetSpec:
    name: str
    path: Path
    format: str = "auto"


def load_registry(source) -> dict[str, DatasetSpec]:
    """A registry from a YAML file path or a dict {name: {path, format}} (or {name: path})."""
    if source is None:
        return {}
    base = Path(".")
    if isinstance(source, (str, Path)):
        import yaml

        file = Path(source)
        if not file.is_file():
            raise FileNotFoundError(f"dataset registry {file} not found")
        base = file.parent
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    else:
        data = source
    if not isinstance(data, dict):
        raise ValueError(f"dataset registry {source}: expected a mapping of names to datasets")
    registry = {}
    for name, entry in data.items():
        if isinstance(entry, (str, Path)):
            entry = {"path": entry}
        if not isinstance(entry, dict) or "path" not in entry:
            raise ValueError(f"dataset registry {source}: entry {name!r} needs a 'path'")
        path = Path(entry["path"])
        if not path.is_absolute() and (base / path).exists():
            path = base / path  # next to the registry file; otherwise relative to the working directory
        registry[str(name)] = DatasetSpec(str(name), path, entry.get("format", "auto"))
    return registry


def resolve(entry: str, registry: dict[str, DatasetSpec]) -> DatasetSpec:
    """A config's dataset entry: a registered name, ``name=path`` or a path."""
    if entry in registry:
        return registry[entry]
    if "=" in entry:
        name, path = entry.split("=", 1)
        return DatasetSpec(name, Path(path))
    path = Path(entry)
    if path.suffix in (".json", ".jsonl") or path.exists():
        return DatasetSpec(path.stem, path)
    known = ", ".join(sorted(registry)) or "none"
    raise KeyError(f"unknown dataset {entry!r} (registered: {known}); give a path or name=path")


def mix(datasets: list[list[SFTExample]], weights: list[float] | None = None, *, max_samples: int | None = None,
        seed: int = 0) -> list[SFTExample]:
    """Weighted mixture (see module docstring), shuffled."""
    if not datasets:
        return []
    weights = list(weights) if weights else [1.0] * len(datasets)
    if len(weights) != len(datasets):
        raise ValueError(f"{len(weights)} weights for {len(datasets)} datasets")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"dataset weights must be >= 0 and not all 0, got {weights}")
    rng = random.Random(seed)
    total = max_samples or sum(len(d) for d in datasets)
    out: list[SFTExample] = []
    for data, w in zip(datasets, weights):
        want = round(w / sum(weights) * total)
        if not data or want == 0:
            continue
        if want <= len(data):
            out += rng.sample(data, want)
        else:
            out += data + [rng.choice(data) for _ in range(want - len(data))]
    rng.shuffle(out)
    return out


def load_mixture(entries: list[str], weights: list[float] | None = None, registry=None, *,
                 max_samples: int | None = None, seed: int = 0) -> tuple[list[SFTExample], dict]:
    """Load and mix the named datasets; returns (examples, {name: examples loaded})."""
    reg = load_registry(registry) if not isinstance(registry, dict) or not registry or \
        not isinstance(next(iter(registry.values())), DatasetSpec) else registry
    loaded, sizes = [], {}
    for entry in entries:
        spec = resolve(entry, reg)
        data = load_sft_file(spec.path, spec.format)
        loaded.append(data)
        sizes[spec.name] = len(data)
    return mix(loaded, weights, max_samples=max_samples, seed=seed), sizes
