"""Deliberate thread counts for numeric libraries.

OpenMP / BLAS pools default to one thread per core and busy-wait between parallel regions. On a small
machine that is shared with a web server, a browser or a second worker, that spinning makes every
matrix operation wait for a core that someone else holds. One thread per process and passive waiting
are the safe defaults; ``ASSISTANT_THREADS`` raises the count for a dedicated batch job.
"""
from __future__ import annotations

import os

_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
         "VECLIB_MAXIMUM_THREADS")


def thread_count() -> int:
    return max(1, int(os.environ.get("ASSISTANT_THREADS", "1")))


def limit_threads() -> int:
    """Set thread variables (without overriding the user's) and return the count used."""
    n = thread_count()
    for var in _VARS:
        os.environ.setdefault(var, str(n))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return n


def limit_torch_threads() -> None:
    """torch keeps its own intra-op pool; call after importing torch."""
    import torch

    n = thread_count()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set once in this process
        pass


def limit_faiss_threads() -> None:
    import faiss

    faiss.omp_set_num_threads(thread_count())
