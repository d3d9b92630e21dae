"""Where the index's vectors live and who answers the candidate searches: one interface, two stores.

``CandidateStore`` (``base``) is what ``Retriever.rank`` asks for candidates: the lexical list (BM25 scores of
weighted query terms) and the dense list (inner products with the query vector), each under one or more
filters (``Where``). Fusion, the law router and the learned ranker stay in our code, above this interface.

* ``faiss`` (default): the build folder's bm25 matrix and ``dense.faiss`` in this process;
* ``milvus:PATH.db`` (Milvus Lite, an embedded Milvus in a local folder) or ``milvus:http://host:19530``
  (Milvus Standalone / Distributed / Zilliz; token in ``MILVUS_TOKEN``): one collection per build, its
  dense vector, our BM25 weights as a sparse vector, and filters as Milvus expressions.
"""
from assistant.search.stores.base import CandidateStore, StoreSpec, Where, parse_store_spec

__all__ = ["CandidateStore", "StoreSpec", "Where", "parse_store_spec"]
