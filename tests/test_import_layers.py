"""No import from a later stage into an earlier one. Stages, in order: corpus -> data -> search -> models ->
answer -> webui; train and eval sit on top (train may use eval's text metrics, eval never imports train);
the root command ``assistant/cli.py`` above all.
Every import statement counts, including the ones inside functions (kept there for start-up time, they
still tie the stages together)."""
from __future__ import annotations

import ast
from pathlib import Path

import assistant

PACKAGE = Path(assistant.__file__).parent
BASE = {"__init__", "config", "errors", "jsonio", "threads"}  # top-level modules any stage may use

ORDER = ["corpus", "data", "search", "models", "answer", "webui"]
ALLOWED: dict[str, set[str]] = {stage: set(ORDER[:i]) for i, stage in enumerate(ORDER)}
ALLOWED["train"] = set(ORDER) - {"webui"} | {"eval"}  # eval.metrics scores generations during training
ALLOWED["eval"] = set(ORDER) - {"webui"}
ALLOWED["cli"] = set(ORDER) | {"train", "eval"}  # the root command (assistant/cli.py) opens the corpus for all


def stage_of(module: str) -> str | None:
    """``assistant.search.index`` -> ``search``; base modules -> ``base``; the root command -> ``cli``."""
    parts = module.split(".")
    if parts[0] != "assistant":
        return None
    if len(parts) == 1 or parts[1] in BASE:
        return "base"
    return parts[1]


def imports_of(source: str) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return out


def violations(module: str, source: str) -> list[str]:
    """``file:line: a imports b`` for each import that goes up the stages."""
    own = stage_of(module)
    found = []
    for line, target in imports_of(source):
        other = stage_of(target)
        if other is None or other == own or other == "base":
            continue
        if other == "cli" and module.endswith(".cli"):
            continue  # each stage's command module registers with the root command and uses its helpers
        allowed = set() if own == "base" else ALLOWED.get(own, set())
        if other not in allowed:
            found.append(f"{module}:{line}: {own} imports {target} ({other})")
    return found


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        yield ".".join(rel.parts), path


def test_every_stage_imports_only_earlier_stages():
    stages = {stage_of(m) for m, _ in _modules()}
    assert stages - {"base", "cli"} <= set(ALLOWED), f"a stage without a place in the order: {stages}"
    problems = [v for module, path in _modules() for v in violations(module, path.read_text(encoding="utf-8"))]
    assert not problems, "imports against the stage order:\n" + "\n".join(problems)


def test_the_check_catches_the_imports_it_forbids():
    """The two the layout had: search reading rows through eval, answer loading models through train."""
    assert violations("assistant.search.learned", "def f():\n    from assistant.eval.retrieval import x\n")
    assert violations("assistant.answer.backends.transformers", "import assistant.train.adapters\n")
    assert violations("assistant.corpus.store", "from assistant.search import load_retriever\n")
    assert violations("assistant.eval.qa", "from assistant.train.trainer import run\n")
    assert not violations("assistant.answer.pipeline", "from assistant.search.types import Hit\n")
    assert not violations("assistant.train.trainer", "from assistant.eval.metrics import rouge_bleu\n")
