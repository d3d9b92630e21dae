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


def _undecodable_argument(argv: list[str]) -> int | None:
    """The position of an argument that was not valid UTF-8 (Python keeps such bytes as lone surrogates,
    which nothing downstream can print, tokenise or store)."""
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return i
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    bad = _undecodable_argument(argv)
    if bad is not None:
        shown = argv[bad].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        print(f"error: argument {bad + 1} ({shown!r}) is not valid UTF-8 text", file=sys.stderr)
        return 2
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
    except BrokenPipeError:  # `assistant … | head`: the reader left; stop quietly, as Unix tools do
        import os

        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
        return 141


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
