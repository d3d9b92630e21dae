"""Input formats of the evaluation runner: detection, fields, gold articles, clear errors."""
from __future__ import annotations

import json

import pytest

from assistant.data.datasets import DatasetError, detect_format
from assistant.data.datasets import read_rows


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_our_format_with_query_response_and_gold(tmp_path):
    f = _write_jsonl(tmp_path / "consult.jsonl", [
        {"id": "a", "query": "离婚需要什么手续", "response": "应当签订书面离婚协议。", "law": "民法典",
         "articles": [1076, 1079]},
        {"question": "醉驾怎么处罚", "answer": "处拘役，并处罚金。", "law": "刑法", "articles": ["第一百三十三条之一"]},
        {"question": "只有问题"},
    ])
    rows = read_rows(f)
    assert [r.id for r in rows] == ["a", "consult-1", "consult-2"]
    assert rows[0].question == "离婚需要什么手续" and rows[0].reference == "应当签订书面离婚协议。"
    assert rows[0].gold_labels == ["民法典第1076条", "民法典第1079条"]
    assert rows[1].gold == [("刑法", 133, "")]  # 之一 folded as the dev sets do
    assert rows[2].reference is None and rows[2].gold == []
    assert [r.line for r in rows] == [1, 2, 3]
    assert len(read_rows(f, limit=2)) == 2


def test_recitation_rows_use_single_article_field(tmp_path):
    f = _write_jsonl(tmp_path / "recitation_lawbench_1-1.dev.jsonl", [
        {"id": "r0", "law": "刑法", "article": 133, "question": "刑法第一百三十三条的内容是什么？",
         "answer": "违反交通运输管理法规……", "instruction": "回答以下问题，只需直接给出法条内容:"}])
    (row,) = read_rows(f)
    assert row.prompt == "回答以下问题，只需直接给出法条内容:\n刑法第一百三十三条的内容是什么？"
    assert row.question == "刑法第一百三十三条的内容是什么？"
    assert row.gold == [("刑法", 133, "")]


def test_lawbench_json_array_alpaca_and_adgen(tmp_path):
    lb = tmp_path / "1-1.json"
    lb.write_text(json.dumps([{"instruction": "回答：", "question": "问题一", "answer": "答案一"},
                              {"instruction": "回答：", "question": "问题二", "answer": "答案二"}],
                             ensure_ascii=False), encoding="utf-8")
    rows = read_rows(lb)
    assert [(r.question, r.reference, r.prompt) for r in rows] == [("问题一", "答案一", "回答：\n问题一"),
                                                                     ("问题二", "答案二", "回答：\n问题二")]
    al = _write_jsonl(tmp_path / "alpaca.jsonl", [{"instruction": "请解释", "input": "什么是正当防卫", "output": "……"},
                                                  {"instruction": "什么是紧急避险", "input": "", "output": "……"}])
    rows = read_rows(al)
    assert rows[0].question == "请解释\n什么是正当防卫" and rows[1].question == "什么是紧急避险"
    ad = _write_jsonl(tmp_path / "adgen.jsonl", [{"content": "类型#裙", "summary": "一条裙子"}])
    assert read_rows(ad)[0].reference == "一条裙子"
    assert detect_format({"instruction": 1, "question": 1, "answer": 1}) == "lawbench"


@pytest.mark.parametrize("content,message", [
    ('{"question": "a"}\n{"question": \n', r"bad\.jsonl:2: invalid JSON"),
    ('{"question": "a"}\n{"question": ""}\n', r"bad\.jsonl:2: the question is empty"),
    ('{"question": "a", "law": "刑法", "articles": ["第X条"]}\n', r"bad\.jsonl:1: field 'articles'"),
    ('{"question": "a", "articles": [12]}\n', r"bad\.jsonl:1: field 'articles'.*no law"),
    ('{"question": "a", "answer": 5}\n', r"bad\.jsonl:1: field 'answer' must be a string"),
    ('{"id": 1, "question": "a"}\n{"id": 1, "question": "b"}\n', r"bad\.jsonl:2: duplicate id '1' \(first on line 1\)"),
    ('{"text": "a"}\n', r"bad\.jsonl:1: cannot tell the format"),
    ('\n\n', r"bad\.jsonl: no rows"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, content, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(DatasetError, match=message):
        read_rows(f)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(DatasetError, match="file not found"):
        read_rows(tmp_path / "nope.jsonl")


def test_one_detector_for_eval_search_and_training(tmp_path):
    """A LawBench row is LawBench for training as for evaluation (the old trainer's detector called it
    alpaca, since it has an ``instruction``); training learns the answer to instruction + question."""
    from assistant.train.data.formats import load_sft_file

    row = {"instruction": "回答以下问题:", "question": "醉驾怎么处罚？", "answer": "处拘役，并处罚金。"}
    assert detect_format(row) == "lawbench"
    assert detect_format({"instruction": "a", "input": "", "output": "b"}) == "alpaca"
    assert detect_format({"messages": [], "question": "x"}) == "sharegpt"
    f = _write_jsonl(tmp_path / "lb.jsonl", [row])
    [example] = load_sft_file(f)
    assert example.turns == [("回答以下问题:\n醉驾怎么处罚？", "处拘役，并处罚金。")]
    (evaluated,) = read_rows(f)
    assert evaluated.format == "lawbench" and evaluated.question == "醉驾怎么处罚？"


def test_sharegpt_rows_are_evaluated_on_their_last_turn(tmp_path):
    f = _write_jsonl(tmp_path / "conv.jsonl", [{"messages": [
        {"role": "user", "content": "什么是结婚自由？"}, {"role": "assistant", "content": "男女双方完全自愿。"},
        {"role": "user", "content": "出处？"}, {"role": "assistant", "content": "民法典第1046条。"}]}])
    (row,) = read_rows(f)
    assert (row.question, row.reference) == ("出处？", "民法典第1046条。")
    assert row.history == [["什么是结婚自由？", "男女双方完全自愿。"]]


def test_retrieval_labels_keep_law_as_written_and_citation_suffixes(tmp_path):
    f = _write_jsonl(tmp_path / "r.jsonl", [
        {"id": "a", "query": "醉驾", "law": "刑法", "articles": [133, "第一百三十三条之一"]},
        {"id": "b", "query": "离婚", "citations": [{"law": "民法典", "article": 1076, "in_db": True},
                                                 {"law": "刑法", "article": 133, "suffix": "之一"},
                                                 {"law": None, "article": None}]}])
    a, b = read_rows(f, need_gold=True)
    assert [(c.law, c.number, c.suffix) for c in a.articles] == [("刑法", 133, ""), ("刑法", 133, "之一")]
    assert a.citations is None and a.gold == [("刑法", 133, "")]
    assert [(c.law, c.number, c.suffix, c.in_db) for c in b.citations] == [
        ("民法典", 1076, "", True), ("刑法", 133, "之一", None), (None, None, "", False)]
    assert b.all_gold == {("民法典", 1076, ""), ("刑法", 133, "")}
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"query": "x", "law": "刑法"}])
    with pytest.raises(DatasetError, match=r"bad\.jsonl:1: missing field 'articles' \(or give 'citations'\)"):
        read_rows(bad, need_gold=True)
    assert read_rows(bad)[0].gold == []  # evaluation of answers does not need gold articles


def test_one_percentile_is_nearest_rank_over_0_to_100():
    from assistant.eval.metrics import percentile

    assert percentile([10, 30, 20, 40], 50) == 20.0 and percentile([10, 30, 20, 40], 95) == 40.0
    assert percentile([5.0], 50) == 5.0 and percentile([], 50) is None
