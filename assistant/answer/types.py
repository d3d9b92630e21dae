"""What the answer stage hands to its callers: a checked citation, an answer, and stream events."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.corpus.citations import Citation
from assistant.search.types import Hit

#: verdicts, from best to worst; "verified" means the article exists, is in force and was in context
VERDICTS = ("verified", "not_in_context", "not_yet_in_force", "superseded", "repealed", "not_found", "unresolved")
SUPPORT_LABELS = ("supported", "weak", "unsupported")


@dataclass
class CitationCheck:
    citation: Citation
    exists: bool  # the cited article is in the corpus (a missing 款/项 of it: exists, verdict not_found)
    status: str | None  # on the day asked: current / amended / not_yet_in_force / repealed / historical (None: unknown)
    in_context: bool | None  # among the articles given to the model; None when no context was given
    support_score: float  # 0..1 overlap between the citing sentence and the article text
    support_label: str  # supported / weak / unsupported
    verdict: str
    reason: str
    suggestion: str | None = None  # label of the article the sentence most likely means
    suggestion_id: str | None = None
    suggestion_score: float | None = None
    article_label: str | None = None  # 《中华人民共和国刑法》第一百三十三条之一 when resolved
    sentence: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == "verified"

    def to_dict(self) -> dict[str, Any]:
        c = self.citation
        return {
            "span": c.span, "law": c.law, "number": c.number, "suffix": c.suffix,
            "exists": self.exists, "status": self.status, "in_context": self.in_context,
            "support": {"score": round(self.support_score, 4), "label": self.support_label},
            "suggestion": self.suggestion,
            # extra keys
            "id": c.id, "label": self.article_label, "start": c.start, "end": c.end,
            "paragraph": c.paragraph, "item": c.item, "law_text": c.law_text, "via": c.via,
            "verdict": self.verdict, "reason": self.reason, "suggestion_id": self.suggestion_id,
            "suggestion_score": None if self.suggestion_score is None else round(self.suggestion_score, 4),
        }


@dataclass
class Answer:
    question: str
    text: str
    sources: list[Hit] = field(default_factory=list)
    citations: list[CitationCheck] = field(default_factory=list)
    backend: str = "extractive"
    model: str | None = None
    notice: str | None = None  # e.g. "no generative model is configured", "the model's output was cut off"
    latency_ms: float = 0.0
    #: stop / length / error / empty / refused (the gate: not a legal question) / no_answer (a legal question, but
    #: no retrieved 款 could be quoted for it: the text says so and cites nothing)
    finish_reason: str = "stop"
    #: numbers (periods, amounts, multiples ...) the answer states that no cited article states
    fact_flags: list = field(default_factory=list)
    #: the day the answer is about (the law in force that day); None for answers made before this existed
    as_of: str | None = None
    #: what the answer says about versions (only a not-yet-effective text stored, a revision starting later)
    version_note: str | None = None

    @property
    def clean(self) -> bool:
        """Every citation verified and no number flagged."""
        return all(c.ok for c in self.citations) and not self.fact_flags

    def citation_summary(self) -> dict[str, int]:
        out = {v: 0 for v in VERDICTS}
        for c in self.citations:
            out[c.verdict] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question, "answer": self.text, "backend": self.backend, "model": self.model,
            "notice": self.notice, "finish_reason": self.finish_reason, "latency_ms": round(self.latency_ms, 1),
            "sources": [dict(h.to_dict(), marker=i) for i, h in enumerate(self.sources, 1)],
            "citations": [c.to_dict() for c in self.citations],
            "citation_summary": self.citation_summary(), "clean": self.clean,
            "fact_check": [f.to_dict() for f in self.fact_flags],
            "as_of": self.as_of, "version_note": self.version_note,
        }


@dataclass
class StreamEvent:
    kind: str  # "sources" | "token" | "done"
    hits: list[Hit] | None = None
    text: str = ""
    answer: Answer | None = None


def recited_law(hits) -> str | None:
    """The law (full name) of the articles the question names (``Hit.via == "citation"``) when they all come
    from one law, else None. A recitation answer lays those articles out under a bare 第N条, and the checker
    reads a bare 第N条 as this law's."""
    laws = {h.article.law for h in hits if h.via == "citation"}
    return laws.pop() if len(laws) == 1 else None
