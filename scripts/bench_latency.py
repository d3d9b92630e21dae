"""How long a user waits: a cold ``assistant ask`` (a fresh process, as typed in a terminal) and a warm answer
from ``assistant serve`` (the web app, already running, extractive backend unless told otherwise).

    ASSISTANT_HOME=/tmp/my_home python scripts/bench_latency.py            # 5 cold asks, 20 warm answers
    python scripts/bench_latency.py --cold 7 --warm 30 --json

Cold: ``python -m assistant.cli ask QUESTION`` run --cold times in a row, wall clock from process start to
exit (and its CPU time, user + system, which other load sways less); the first run is reported apart (it may fill caches: the gate's fitted classifiers in the build folder,
the embedder's tokenizer in $ASSISTANT_HOME/cache), the median is over the others. Warm: ``assistant serve``
on a free 127.0.0.1 port, one client asking --warm questions one after another over gradio's /chat (after one
unmeasured question), round trip per answer, median and 95th percentile, and the server's CPU time per answer;
and the same questions answered in this process by the same pipeline (``GroundedAssistant.ask``), without
HTTP, with its CPU time per answer. The machine's load average and
the busiest other processes are printed with the figures: on a shared machine they explain slow runs.
Targets (issue 24): cold ask <= 3 s, warm answer p50 <= 150 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTIONS = ["醉驾怎么处罚？", "离婚冷静期是多久？", "用人单位不签书面劳动合同要承担什么责任？", "民法典第1043条是怎么规定的？",
             "故意伤害致人重伤判几年？", "借钱不还可以起诉吗？", "试用期最长可以约定多久？", "高空抛物造成损害谁来赔？",
             "公司拖欠工资怎么办？", "诉讼时效是几年？", "网购的衣服七天无理由退货，运费谁出？", "今天天气怎么样？"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def machine_load(exclude: set[int], top: int = 5) -> dict:
    """Load average, CPU count and the busiest other processes right now (two /proc samples 0.5 s apart)."""
    def sample() -> dict[int, tuple[int, str]]:
        out = {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit() or int(d.name) in exclude:
                continue
            try:
                stat = (d / "stat").read_text()
                name = stat[stat.index("(") + 1:stat.rindex(")")]
                fields = stat[stat.rindex(")") + 2:].split()
                out[int(d.name)] = (int(fields[11]) + int(fields[12]), name)
            except (OSError, ValueError, IndexError):
                continue
        return out

    try:
        first = sample()
        time.sleep(0.5)
        second = sample()
        tick = os.sysconf("SC_CLK_TCK")
        busy = sorted(((second[p][0] - first[p][0]) / tick / 0.5, second[p][1]) for p in second if p in first)
        busy = [f"{name} {cpu * 100:.0f}%" for cpu, name in reversed(busy[-top:]) if cpu > 0.05]
    except (OSError, ValueError):
        busy = []
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(), "busy_others": busy}


def cold_asks(n: int, question: str, backend: str) -> dict:
    cmd = [sys.executable, "-m", "assistant.cli", "ask", question, "--backend", backend]
    times, cpu, load = [], [], []
    for _ in range(n):
        load.append(machine_load({os.getpid()})["loadavg"][0])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"assistant ask failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rest = times[1:] or times
    return {"runs": n, "first_s": round(times[0], 2), "median_s": round(statistics.median(rest), 2),
            "min_s": round(min(rest), 2), "all_s": [round(t, 2) for t in times],
            # CPU seconds (user + system) of each run: what the run costs, less swayed by other load than wall
            "cpu_median_s": round(statistics.median(cpu[1:] or cpu), 2), "cpu_all_s": [round(t, 2) for t in cpu],
            "loadavg_1min_before_each": load, "answer_head": proc.stdout.strip().split("\n")[0][:80]}


def warm_in_process(n: int, backend: str) -> dict:
    from assistant.answer.pipeline import build_assistant

    assistant = build_assistant(backend)
    assistant.ask(QUESTIONS[0])  # first question: lazy parts load
    times = []
    cpu_before = time.process_time()
    for i in range(n):
        started = time.perf_counter()
        assistant.ask(QUESTIONS[i % len(QUESTIONS)])
        times.append((time.perf_counter() - started) * 1000)
    cpu = time.process_time() - cpu_before
    return {"answers": n, "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "cpu_ms_per_answer": round(cpu * 1000 / n, 1)}


def warm_serve(n: int, backend: str, startup_timeout: float) -> dict:
    from load_test import connect, free_port, start_server, stop_server

    port = free_port()
    server = start_server(port, backend, startup_timeout)
    try:
        client = connect(f"http://127.0.0.1:{port}/", 120)
        client.submit(QUESTIONS[0], api_name="/chat").result(timeout=120)  # first question: lazy parts load
        times = []
        cpu_before = process_cpu(server.pid)
        for i in range(n):
            started = time.perf_counter()
            text = client.submit(QUESTIONS[i % len(QUESTIONS)], api_name="/chat").result(timeout=120)
            times.append((time.perf_counter() - started) * 1000)
            if not (isinstance(text, str) and text.strip()):
                raise SystemExit(f"empty answer from the server to {QUESTIONS[i % len(QUESTIONS)]!r}")
        server_cpu = process_cpu(server.pid) - cpu_before
    finally:
        stop_server(server)
    return {"answers": n, "p50_ms": round(statistics.median(times), 1), "p95_ms": round(percentile(times, 0.95), 1),
            "server_cpu_ms_per_answer": round(server_cpu * 1000 / n, 1)}


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, threads included) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cold", type=int, default=5, help="cold `assistant ask` runs (the first reported apart)")
    ap.add_argument("--warm", type=int, default=20, help="warm answers timed (in serve and in process)")
    ap.add_argument("--question", default=QUESTIONS[0], help="the cold ask's question")
    ap.add_argument("--backend", default="extractive")
    ap.add_argument("--no-serve", action="store_true", help="skip the web server (warm answers in process only)")
    ap.add_argument("--startup-timeout", type=float, default=600.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not (1 <= args.cold <= 50 and 1 <= args.warm <= 500):
        ap.error("keep --cold within 1..50 and --warm within 1..500")

    report = {"home": os.environ.get("ASSISTANT_HOME", "indexes"), "backend": args.backend,
              "machine_before": machine_load({os.getpid()})}
    report["cold_ask"] = cold_asks(args.cold, args.question, args.backend)
    report["warm_in_process"] = warm_in_process(args.warm, args.backend)
    if not args.no_serve:
        report["warm_serve"] = warm_serve(args.warm, args.backend, args.startup_timeout)
    report["machine_after"] = machine_load({os.getpid()})
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    m0, m1 = report["machine_before"], report["machine_after"]
    c = report["cold_ask"]
    print(f"home {report['home']}, backend {args.backend}, {m0['cpus']} CPUs")
    print(f"load average before {m0['loadavg']}, after {m1['loadavg']}; busiest other processes before: "
          f"{', '.join(m0['busy_others']) or 'none'}; after: {', '.join(m1['busy_others']) or 'none'}")
    print(f"cold `assistant ask {args.question}`: median {c['median_s']} s (min {c['min_s']}) over runs 2-{c['runs']}, "
          f"first run {c['first_s']} s; all {c['all_s']}  [target <= 3 s]; CPU time median {c['cpu_median_s']} s, "
          f"all {c['cpu_all_s']}")
    w = report["warm_in_process"]
    print(f"warm answer in process: p50 {w['p50_ms']} ms, p95 {w['p95_ms']} ms over {w['answers']}; "
          f"CPU {w['cpu_ms_per_answer']} ms per answer")
    if "warm_serve" in report:
        s = report["warm_serve"]
        print(f"warm answer from `assistant serve` (/chat round trip): p50 {s['p50_ms']} ms, p95 {s['p95_ms']} ms "
              f"over {s['answers']}  [target p50 <= 150 ms]; server CPU {s['server_cpu_ms_per_answer']} ms per answer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
