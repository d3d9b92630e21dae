"""LangChain adapter: ``StatuteRetriever(retriever=load_retriever()).invoke("醉驾怎么处罚")`` -> Documents."""
from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


def hit_to_document(hit) -> Document:
    a = hit.article
    return Document(id=a.id, page_content=a.text,
                    metadata={"law": a.law, "law_short": a.law_short, "number": a.number, "suffix": a.suffix,
                              "number_text": a.number_text, "label": a.label, "status": a.status, "kind": a.kind,
                              "headings": a.headings, "score": hit.score, "rank": hit.rank, "via": hit.via})


class StatuteRetriever(BaseRetriever):
    """A LangChain retriever over an ``assistant.search.Retriever``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    top_k: int = 5
    law: str | None = None
    include_repealed: bool = False

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        hits = self.retriever.search(query, top_k=kwargs.get("top_k", self.top_k), law=kwargs.get("law", self.law),
                                     include_repealed=kwargs.get("include_repealed", self.include_repealed),
                                     history=kwargs.get("history"))
        return [hit_to_document(h) for h in hits]
