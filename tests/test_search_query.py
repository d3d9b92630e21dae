"""The question is read once: a ``Query`` carries the follow-up context, the question type, the reviewed and
learned statute wording, and every stage takes it instead of re-reading the words with tables of its own."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from assistant.search.query import Query, read_query

PACKAGE = Path(__file__).resolve().parents[1] / "assistant"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _wording_tables(path: Path) -> list[str]:
    """Module-level dicts that map Chinese words to Chinese words (the shape of an everyday-wording table)."""
    found = []
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            keys = [k for k in node.value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            values = [v for v in node.value.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
            spread = any(k is None for k in node.value.keys)  # {**dict.fromkeys((…), "…")}
            if (keys and values and _CJK.search(keys[0].value) and _CJK.search(values[0].value)) or spread:
                target = node.targets[0] if isinstance(node, ast.Assign) else node.target
                found.append(getattr(target, "id", "?"))
    return found


@pytest.mark.parametrize("module", ["answer/select.py", "answer/gate.py", "answer/backends/extractive.py",
                                    "search/text.py", "search/retriever.py", "answer/pipeline.py"])
def test_the_answer_stages_hold_no_wording_table_of_their_own(module):
    assert _wording_tables(PACKAGE / module) == []


def test_the_one_reviewed_table_is_the_only_wording_table_in_search_and_answer():
    tables = {str(p.relative_to(PACKAGE)): _wording_tables(p)
              for folder in ("search", "answer") for p in (PACKAGE / folder).rglob("*.py")}
    assert {m: t for m, t in tables.items() if t} == {"search/wording.py": ["REVIEWED_TERMS"]}


def test_a_follow_up_is_read_with_the_turn_it_follows():
    q = read_query("那如果是醉驾呢？", history=["交通肇事后逃逸怎么判"])
    assert q.standalone == "交通肇事后逃逸怎么判 那如果是醉驾呢？"
    assert q.focus == "那如果是醉驾呢？"
    assert "醉酒驾驶机动车" in q.statute_text  # the reviewed reading of 醉驾
    assert read_query("醉驾怎么处罚").focus is None


def test_drunk_and_drink_driving_read_as_two_different_statute_words():
    # the two tables that disagreed (酒驾 -> 醉酒 危险驾驶 in one, 饮酒后驾驶 in the other) are one now
    assert "饮酒后驾驶机动车" in read_query("酒驾扣几分").statute_text
    assert "危险驾驶" not in read_query("酒驾扣几分").statute_text
    assert "危险驾驶" in read_query("醉驾判几个月").statute_text


def test_question_type_and_topic_are_read_once():
    q = read_query("离婚冷静期是多久")
    assert (q.qtype, q.topic) == ("period", "离婚冷静期")
    assert read_query("买到假货能赔几倍").qtype == "multiple"
    assert read_query("高空抛物谁负责").qtype == "party"


def test_a_long_case_description_is_marked_as_one():
    facts = "2023年5月，被告人王某在某小区地下车库内，趁无人之际，用工具撬开被害人停放的电动车锁，将车推走后以八百元卖给他人，" * 2
    assert read_query(facts).is_case and not read_query("电动车被偷了怎么办").is_case


def test_with_an_index_the_query_carries_its_search_words_and_learned_statute_words(retriever):
    q = retriever.read("离婚冷静期多久")
    assert isinstance(q, Query) and q.tokens
    assert {t.source for t in q.terms()} >= {"question"}
    assert read_query(q) is q  # a Query is not read twice


def test_search_takes_the_query_as_read(retriever):
    as_text = [h.id for h in retriever.search("醉驾怎么处罚", top_k=5)]
    as_query = [h.id for h in retriever.search(retriever.read("醉驾怎么处罚"), top_k=5)]
    assert as_text == as_query


def test_an_empty_query_is_refused(retriever):
    from assistant.search import SearchError

    with pytest.raises(SearchError):
        retriever.search(read_query("   "))
