"""Batch evaluation: retrieval (``retrieval``), grounded question answering (``qa``), run comparison.

    from assistant.eval.metrics import rouge_bleu, score_citations, aggregate_citations, make_compute_metrics
    from assistant.eval.qa import QAConfig, QARun
    summary = QARun(QAConfig(data="dev.jsonl", out="runs/x")).run()

Heavy modules (matplotlib, the pipeline) are imported only where used.
"""
