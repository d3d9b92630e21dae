"""The ``assistant`` command. A thin layer: each stage registers its subcommands from its own ``cli`` module,
which keeps heavy imports (torch, faiss, gradio) inside the command functions so ``--help`` stays fast."""
from __future__ import annotations

import argparse
import importlib
import sys

from assistant.errors import UserError  # noqa: F401  (re-exported for command modules)

#: modules with a ``register(subparsers)`` function, in the order their commands appear in --help
COMMAND_MODULES = (
    "assistant.corpus.cli",    # corpus import|stats|laws|show|diff
    "assistant.search.cli",    # index build|update|info, search
    "assistant.answer.cli",    # check, ask, chat, api
    "assistant.webui.cli",     # serve
    "assistant.train.cli",     # model tiny, data sft|pt, train pt|sft|merge
    "assistant.eval.cli",      # eval retrieval|qa|compare
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="A grounded legal assistant for PRC law.")
    parser.add_argument("--home", help="folder for the article store and index (default: $ASSISTANT_HOME or indexes/)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.home:
        import os

        os.environ["ASSISTANT_HOME"] = args.home
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def open_corpus(readonly: bool = True):
    """The article store for a command; a missing store is a user error that says how to create it."""
    from assistant.corpus import open_store

    try:
        return open_store(readonly=readonly)
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None


def print_json(obj) -> None:
    import json

    print(json.dumps(obj, ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
