"""Statute search: exact citation lookup, BM25 + FAISS hybrid ranking, law routing, atomic index builds.

    from assistant.search import load_retriever
    retriever = load_retriever()             # opens (or builds) the index under $ASSISTANT_HOME/search
    hits = retriever.search("醉驾怎么处罚", top_k=5, law=None, include_repealed=False, history=None)
"""
from assistant.search.embedders import Embedder, make_embedder
from assistant.search.index import BuildConfig, BuildReport, IndexMismatch, IndexMissing, build_index, read_manifest
from assistant.search.retriever import Retriever, SearchConfig, SearchError, contextualise, load_retriever
from assistant.search.types import Hit

__all__ = ["Retriever", "load_retriever", "build_index", "Hit", "Embedder", "make_embedder", "BuildConfig",
           "BuildReport", "IndexMismatch", "IndexMissing", "SearchConfig", "SearchError", "contextualise",
           "read_manifest"]
