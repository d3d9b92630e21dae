"""Generation speed of the transformers answer backend per weight dtype (``--dtype fp32`` vs ``bf16``) on
this CPU: one thread, greedy, the same prompt (a question with a statute pasted six times, ~200 tokens)
and --new-tokens tokens, median of --runs. Prints a Markdown table.

    nice -n 10 python scripts/bench_dtype.py --model /tmp/qwen05b-hf
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("ASSISTANT_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import assistant  # noqa: E402,F401  (sets thread variables)

STATUTE = "在道路上驾驶机动车，有下列情形之一的，处拘役，并处罚金：（一）追逐竞驶，情节恶劣的；（二）醉酒驾驶机动车的。"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="local Hugging Face model folder")
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16", "auto"])
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    from assistant.answer.backends.base import GenerationRequest
    from assistant.answer.backends.transformers import TransformersBackend

    question = "醉酒驾驶机动车怎么处罚？" + STATUTE * 6
    rows = []
    for dtype in args.dtypes:
        backend = TransformersBackend(args.model, dtype=dtype, max_new_tokens=args.new_tokens)
        prompt_tokens = backend.count_tokens(question)
        times, tokens = [], 0
        for _ in range(args.runs):
            request = GenerationRequest(question=question, hits=[], messages=[{"role": "user", "content": question}],
                                        history=[], max_new_tokens=args.new_tokens)
            start = time.perf_counter()
            "".join(backend.stream(request))
            times.append(time.perf_counter() - start)
            tokens = request.generated_tokens
        rows.append((dtype, backend.dtype, prompt_tokens, tokens, statistics.median(times)))
        del backend
    print("| --dtype | weights | prompt tokens | new tokens | median s | new tokens/s |")
    print("|---|---|---|---|---|---|")
    for dtype, weights, prompt_tokens, tokens, seconds in rows:
        print(f"| {dtype} | {weights} | {prompt_tokens} | {tokens} | {seconds:.2f} | {tokens / seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
