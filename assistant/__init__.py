"""A retrieval-augmented assistant for PRC law that does not make up law.

Pipeline, one module per stage:
  assistant.corpus   statutes article by article in SQLite (``Article``, ``ArticleStore``)
  assistant.search   BM25 + FAISS hybrid retrieval and exact citation lookup (``Retriever``)
  assistant.answer   prompts, LLM backends, citation checking (``answer``)
  assistant.webui    the Gradio app
  assistant.train    continued pretraining and SFT (LoRA / P-Tuning v2)
  assistant.eval     batch evaluation
"""
from assistant.threads import limit_threads

# Must run before numpy / faiss / torch are imported anywhere: on a 2-core machine, OpenMP pools that
# spin on both cores collapse 5-35x as soon as another process is busy.
limit_threads()

__version__ = "0.1.0"
