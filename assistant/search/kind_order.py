"""Document kinds in retrieval: the ``kind=`` filter mask and "the law first, its interpretation next".

A 司法解释 article applies a law: 依照示例法第三条…, or its title names the law (关于适用《示例法》的解释).
When a question is answered by both, users and lawyers expect the law's own article first and the
interpretation that applies it right after it; fused scores often put the interpretation first because it
repeats the question's facts. ``law_before_interpretation`` moves such an interpretation directly below
the first hit of the law it applies; nothing else moves.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from assistant.corpus.kinds import JUDICIAL_INTERPRETATION, LEGISLATIVE_INTERPRETATION

#: kinds that apply another law
_APPLYING = (JUDICIAL_INTERPRETATION, LEGISLATIVE_INTERPRETATION)


def kind_mask(row_laws: np.ndarray, law_kinds: dict[str, str | None], wanted: set[str]) -> np.ndarray:
    """Rows whose law is of one of the wanted kinds."""
    laws = [law for law, k in law_kinds.items() if k in wanted]
    return np.isin(row_laws, np.array(laws, dtype=object)) if laws else np.zeros(len(row_laws), dtype=bool)


def law_before_interpretation(hits: Sequence, first_movable: int = 0) -> list:
    """Reorder hits so an interpretation comes right after the law it applies (when both were found).

    ``hits`` carry ``.article`` (with ``kind``, ``law``, ``law_short``, ``text``); hits before
    ``first_movable`` (articles the query named) keep their place. Ranks are renumbered by the caller.
    """
    out = list(hits)
    i = first_movable
    moved: set[int] = set()
    while i < len(out):
        h = out[i]
        a = h.article
        if a.kind in _APPLYING and id(h) not in moved:
            target = None
            for j in range(i + 1, len(out)):
                b = out[j].article
                if b.kind in _APPLYING or b.law == a.law:
                    continue
                if b.law_short and len(b.law_short) >= 2 and (b.law_short in a.text or b.law_short in a.law):
                    target = j
                    break
            if target is not None:
                out.insert(target, out.pop(i))  # lands right after the law's hit
                moved.add(id(h))
                continue  # position i now holds the next hit
        i += 1
    return out
