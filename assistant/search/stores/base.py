"""The candidate-store interface, filters, and store specs (``faiss`` | ``milvus:URI``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol, Sequence
from urllib.parse import parse_qs, urlsplit

import numpy as np

STORE_ENV = "ASSISTANT_STORE"
TOKEN_ENV = "MILVUS_TOKEN"


class StoreError(ValueError):
    pass


@dataclass(frozen=True)
class StoreSpec:
    """``faiss`` or ``milvus:URI[?alias=NAME]``; a Lite URI (a local path) is made absolute."""
    kind: str = "faiss"
    uri: str = ""
    alias: str = "assistant"

    @property
    def is_lite(self) -> bool:
        return self.kind == "milvus" and not self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    def __str__(self) -> str:
        if self.kind == "faiss":
            return "faiss"
        return f"milvus:{self.uri}" + (f"?alias={self.alias}" if self.alias != "assistant" else "")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "uri": self.uri, "alias": self.alias}

    @classmethod
    def from_dict(cls, d: dict | None) -> "StoreSpec":
        if not d:
            return cls()
        return cls(d.get("kind", "faiss"), d.get("uri", ""), d.get("alias", "assistant"))


def parse_store_spec(spec: "str | StoreSpec | None") -> StoreSpec:
    """``None`` / ``""`` / ``faiss`` -> FAISS; ``milvus:./x.db`` -> Milvus Lite; ``milvus:http://h:19530``."""
    if isinstance(spec, StoreSpec):
        return spec
    spec = (spec or "").strip()
    if spec in ("", "faiss"):
        return StoreSpec()
    if not spec.startswith("milvus:"):
        raise StoreError(f"unknown store {spec!r}: use faiss, milvus:PATH.db (Milvus Lite) or milvus:http://host:19530")
    rest = spec[len("milvus:"):]
    alias = "assistant"
    if "?" in rest:
        rest, query = rest.split("?", 1)
        alias = (parse_qs(query).get("alias") or [alias])[0]
    if not rest:
        raise StoreError("milvus: needs a URI, e.g. milvus:./indexes/milvus.db or milvus:http://localhost:19530")
    if not urlsplit(rest).scheme or len(urlsplit(rest).scheme) == 1:  # a path (or a Windows drive letter)
        rest = str(Path(rest).expanduser().resolve())
    if not alias.replace("_", "a").isalnum() or alias[0].isdigit():
        raise StoreError(f"alias {alias!r}: letters, digits and underscores, not starting with a digit")
    return StoreSpec("milvus", rest, alias)


def default_store_spec() -> StoreSpec:
    return parse_store_spec(os.environ.get(STORE_ENV))


def _quote(value: str) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Where:
    """Which articles a candidate list may hold: a row mask (for in-process stores) and the same condition in
    fields (for Milvus expressions). ``None`` fields do not restrict."""
    mask: np.ndarray = field(repr=False)
    statuses: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    laws: tuple[str, ...] | None = None
    chapter: str | None = None

    def narrowed(self, laws: Sequence[str], mask: np.ndarray) -> "Where":
        """The same condition, further restricted to ``laws`` (``mask`` is the combined row mask)."""
        laws = tuple(laws) if self.laws is None else tuple(x for x in self.laws if x in set(laws))
        return replace(self, laws=laws, mask=mask)

    def expression(self) -> str:
        """A Milvus boolean expression over the collection's scalar fields ('' = everything)."""
        parts = []
        if self.statuses is not None:
            parts.append(f"status in [{', '.join(map(_quote, self.statuses))}]")
        if self.kinds is not None:
            parts.append(f"kind in [{', '.join(map(_quote, self.kinds))}]")
        if self.laws is not None:
            parts.append(f"law in [{', '.join(map(_quote, self.laws))}]")
        if self.chapter:
            escaped = self.chapter.replace("\\", "\\\\").replace('"', '\\"').replace("%", "\\%").replace("_", "\\_")
            parts.append(f'chapter like "%{escaped}%"')
        return " and ".join(parts)


@dataclass
class LexicalCandidates:
    """BM25 scores of the candidate rows (unsorted) and the best score over every article (for scaling)."""
    rows: np.ndarray  # int64
    scores: np.ndarray  # float64, raw BM25
    top: float


class CandidateStore(Protocol):
    """What the retriever asks the index for. Rows are positions in the build's article list."""

    kind: str
    #: True when the store holds dense vectors (an index built with an embedder)
    has_dense: bool

    def lexical(self, terms: dict[str, float], wheres: Sequence[Where], k: int) -> LexicalCandidates:
        """The BM25 score sum_t w_t * bm25(t, d) of the articles that can reach the top ``k`` under each filter
        (in-process stores may return every article with a positive score)."""

    def dense(self, qvec: np.ndarray, wheres: Sequence[Where], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(scores, rows) best first, the ``k`` best under each filter."""

    def info(self) -> dict:
        ...

    def close(self) -> None:
        ...
