"""The ``assistant eval`` command group through ``assistant.cli.main``: qa (store and index under
$ASSISTANT_HOME, index built on first use), compare, retrieval, and user errors (exit 2, no traceback)."""
from __future__ import annotations

import json

import pytest

from assistant.cli import main


@pytest.fixture
def home_with_store(tmp_path):
    """The fixture statutes imported where the CLI looks ($ASSISTANT_HOME is tmp_path/home, see conftest)."""
    from conftest import build_fixture_store

    from assistant.config import Paths

    paths = Paths().ensure()
    build_fixture_store(paths.db).close()
    return paths


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_qa_compare_and_retrieval_commands(home_with_store, tmp_path, capsys):
    data = _write(tmp_path / "dev.jsonl", [
        {"id": "1", "question": "醉酒驾驶机动车怎么处罚？", "answer": "醉酒驾驶机动车的，处拘役，并处罚金。",
         "law": "刑法", "articles": [133]},
        {"id": "2", "question": "夫妻双方自愿离婚应当怎么办理？", "answer": "应当签订书面离婚协议。",
         "law": "民法典", "articles": [1076]},
        {"id": "3", "question": "劳动者严重违反用人单位的规章制度，单位能解除劳动合同吗？",
         "answer": "可以解除劳动合同。", "law": "劳动合同法", "articles": [39]},
    ])
    run_a, run_b = tmp_path / "runs" / "k5", tmp_path / "runs" / "k1"
    assert main(["eval", "qa", "--data", str(data), "--out", str(run_a), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["metrics"]["n"] == 3 and summary["settings"]["top_k"] == 5
    assert main(["eval", "qa", "--data", str(data), "--out", str(run_b), "--top-k", "1", "--limit", "2"]) == 0
    printed = capsys.readouterr().out
    assert "ROUGE-L" in printed and "rows" in printed and "2 of 2" in printed
    for run in (run_a, run_b):
        assert {p.name for p in run.iterdir()} >= {"predictions.jsonl", "summary.json", "report.md", "metrics.png",
                                                   "run.json", "lawbench"}

    chart = tmp_path / "cmp.png"
    assert main(["eval", "compare", str(run_a), str(run_b), "--chart", str(chart), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["runs"]) == ["k5", "k1"]
    assert result["runs"]["k1"]["metrics"]["n"] == 2
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert main(["eval", "compare", str(run_a), str(run_b), "--markdown", "--chart", str(chart)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| metric | k5 | k1 |") and "| ROUGE-L |" in table

    rdata = _write(tmp_path / "retr.jsonl", [
        {"query": "醉酒驾驶机动车", "law": "刑法", "articles": [133]},
        {"query": "自愿离婚 离婚协议 婚姻登记机关", "law": "民法典", "articles": [1076]}])
    out = tmp_path / "retr_rows.json"
    assert main(["eval", "retrieval", "--data", str(rdata), "--top-k", "5", "--json", "--out", str(out)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 2 and metrics["recall@5"] == 1.0 and "rows" not in metrics
    assert len(json.loads(out.read_text(encoding="utf-8"))["rows"]) == 2


def test_user_errors_exit_2_with_a_clear_message(home_with_store, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a"}\n{"question": 5}\n', encoding="utf-8")
    assert main(["eval", "qa", "--data", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:2" in err and "'question' must be a string" in err and "Traceback" not in err

    assert main(["eval", "compare", str(tmp_path / "nothing")]) == 2
    assert "no summary.json" in capsys.readouterr().err

    good = tmp_path / "good.jsonl"
    good.write_text('{"question": "醉驾怎么处罚"}\n', encoding="utf-8")
    assert main(["eval", "qa", "--data", str(good), "--out", str(tmp_path / "r2"),
                 "--backend", "transformers", "--model", str(tmp_path / "no-model")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_eval_qa_takes_the_same_model_flags_as_ask_and_serve(home_with_store, tmp_path, capsys, monkeypatch):
    """`eval qa --backend llamacpp` is a choice (it used to be "invalid choice"), a .gguf --model alone picks
    llama.cpp as in ask and serve, a missing GGUF file is a clear error, an unknown ASSISTANT_BACKEND is named."""
    data = _write(tmp_path / "rows.jsonl", [{"question": "醉驾怎么处罚"}])
    missing = tmp_path / "m.gguf"
    for extra in (["--backend", "llamacpp"], []):
        assert main(["eval", "qa", "--data", str(data), "--out", str(tmp_path / "r"), *extra,
                     "--model", str(missing)]) == 2
        err = capsys.readouterr().err
        assert "invalid choice" not in err and f"model file {missing} does not exist" in err
    monkeypatch.setenv("ASSISTANT_BACKEND", "gpt5")
    assert main(["eval", "qa", "--data", str(data), "--out", str(tmp_path / "r")]) == 2
    assert "unknown backend 'gpt5'" in capsys.readouterr().err
