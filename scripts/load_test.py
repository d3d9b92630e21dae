"""Load test for the web app: N concurrent gradio_client clients, each asking M questions over /chat.

Starts `assistant serve` (extractive backend unless told otherwise) on a free loopback port, waits until it
answers, runs the clients, prints errors and latency percentiles, and stops the server.

    python scripts/load_test.py                    # 20 clients x 10 questions, $ASSISTANT_HOME's corpus/index
    python scripts/load_test.py --clients 5 --questions 4 --json

On first use with an empty $ASSISTANT_HOME the server imports the default corpus and builds the index first
(minutes; its progress bars are shown). Only 127.0.0.1 is ever used.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from assistant.eval.metrics import percentile  # noqa: E402

QUESTIONS = [
    "醉驾怎么处罚？", "离婚冷静期是多久？", "用人单位不签书面劳动合同要承担什么责任？", "民法典第1043条是怎么规定的？",
    "故意伤害致人重伤判几年？", "借钱不还可以起诉吗？", "试用期最长可以约定多久？", "未成年人打赏主播的钱能要回来吗？",
    "房屋租赁合同到期房东不退押金怎么办？", "交通事故逃逸会受到什么处罚？", "夫妻共同债务怎么认定？",
    "劳动者提前多少天通知可以辞职？", "遗嘱怎样才有效？", "网购商品七天无理由退货有哪些例外？", "正当防卫的条件是什么？",
    "高空抛物造成损害谁来赔？", "公司拖欠工资怎么办？", "子女对父母有赡养义务吗？", "诉讼时效是几年？",
    "那如果是吸毒后驾驶呢？",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, backend: str, startup_timeout: float) -> subprocess.Popen:
    import httpx

    cmd = [sys.executable, "-m", "assistant.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--backend", backend, "--json"]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)  # stderr (progress bars) passes through
    deadline = time.monotonic() + startup_timeout
    url = f"http://127.0.0.1:{port}/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with status {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"the server did not answer within {startup_timeout:.0f}s")


def stop_server(server: subprocess.Popen) -> None:
    """Ask the server to stop; kill it when it has not within 20 s."""
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def connect(url: str, timeout: float):
    """A client with its own session; connecting fetches the app config and API description."""
    from gradio_client import Client

    return Client(url, verbose=False, httpx_kwargs={"timeout": timeout})


def run_client(client, client_no: int, n_questions: int, timeout: float) -> list[dict]:
    results = []
    for i in range(n_questions):
        question = QUESTIONS[(client_no * 7 + i) % len(QUESTIONS)]
        started = time.perf_counter()
        try:
            job = client.submit(question, api_name="/chat")
            text = job.result(timeout=timeout)
            ok = isinstance(text, str) and bool(text.strip())
            error = None if ok else f"empty answer to {question!r}"
        except Exception as exc:
            ok, error = False, f"{type(exc).__name__}: {exc}"
        results.append({"client": client_no, "question": question, "ok": ok,
                        "seconds": time.perf_counter() - started, "error": error})
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--questions", type=int, default=10, help="questions per client")
    ap.add_argument("--backend", default="extractive")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per answer")
    ap.add_argument("--startup-timeout", type=float, default=1800.0)
    ap.add_argument("--out", help="write one JSON line per request here (client, question, ok, seconds, error)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (1 <= args.clients <= 200 and 1 <= args.questions <= 1000):
        ap.error("keep --clients within 1..200 and --questions within 1..1000")

    port = free_port()
    server = start_server(port, args.backend, args.startup_timeout)
    url = f"http://127.0.0.1:{port}/"
    try:
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            # connect everyone first so the timed phase measures answering, not page-config downloads
            clients = list(pool.map(lambda _: connect(url, args.timeout), range(args.clients)))
            t0 = time.perf_counter()
            futures = [pool.submit(run_client, c, i, args.questions, args.timeout) for i, c in enumerate(clients)]
            results = [r for f in futures for r in f.result()]
            wall = time.perf_counter() - t0
    finally:
        stop_server(server)

    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            for r in results:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    latencies = [r["seconds"] for r in results if r["ok"]]
    errors = [r for r in results if not r["ok"]]
    summary = {
        "clients": args.clients, "questions_per_client": args.questions, "requests": len(results),
        "errors": len(errors), "wall_s": round(wall, 1), "throughput_rps": round(len(results) / wall, 2),
        "latency_p50_s": round(percentile(latencies, 50), 3) if latencies else None,
        "latency_p95_s": round(percentile(latencies, 95), 3) if latencies else None,
        "latency_max_s": round(max(latencies), 3) if latencies else None,
        "backend": args.backend, "cpu_count": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(dict(summary, error_samples=[e["error"] for e in errors[:10]]), ensure_ascii=False))
    else:
        for e in errors[:10]:
            print(f"error (client {e['client']}): {e['error']}", file=sys.stderr)
        print(f"{'clients':>8} {'req':>5} {'errors':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'req/s':>6} {'wall s':>7}")
        print(f"{summary['clients']:>8} {summary['requests']:>5} {summary['errors']:>6} {summary['latency_p50_s']:>7} "
              f"{summary['latency_p95_s']:>7} {summary['latency_max_s']:>7} {summary['throughput_rps']:>6} "
              f"{summary['wall_s']:>7}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
