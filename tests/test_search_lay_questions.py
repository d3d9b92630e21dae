"""A person asks in their own words (遣散费, a word no statute uses) and search still finds the article,
because every index build learns everyday -> statute wording from the lay-question file (the packaged
``assistant/search/data/lay_questions.jsonl``, or ``ASSISTANT_LAY_QUESTIONS``). Real fixture store, real
BM25 index (no dense model, so the learned words alone must do it)."""
from __future__ import annotations

import json

import pytest

from assistant.search import load_retriever
from assistant.search.index import build_index, read_manifest
from assistant.search.learned import PACKAGED_QUESTIONS, read_question_rows

SEVERANCE = "中华人民共和国劳动合同法#47"
QUESTIONS = [
    {"id": "t1", "query": "被裁员了遣散费怎么算", "citations": [{"law": "劳动合同法", "article": 47}]},
    {"id": "t2", "query": "公司让我走人，遣散费一年给多少", "citations": [{"law": "劳动合同法", "article": 47}]},
    {"id": "t3", "query": "干了三年被裁，遣散费能拿几个月", "citations": [{"law": "劳动合同法", "article": 47}]},
    {"id": "t4", "query": "离婚要去哪里办手续", "citations": [{"law": "民法典", "article": 1076}]},
]


def _write(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _top_ids(index_dir, store, query, k=3):
    retriever = load_retriever(store=store, index_dir=index_dir, build_if_missing=False, progress=False)
    return [h.article.id for h in retriever.search(query, top_k=k)]


def test_a_word_no_statute_uses_finds_the_article_after_learning_from_lay_questions(fixture_store, tmp_path,
                                                                                      monkeypatch):
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(_write(tmp_path / "lay.jsonl", QUESTIONS)))
    build_index(fixture_store, tmp_path / "learned", embedder="bm25-only", progress=False)
    manifest = read_manifest(tmp_path / "learned")
    assert manifest["counts"]["learned_pairs"] == 4  # 1076 resolves through the short law name 民法典
    assert manifest["config"]["lay_questions"].startswith("lay.jsonl:")
    assert _top_ids(tmp_path / "learned", fixture_store, "遣散费有多少")[0] == SEVERANCE

    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", "none")
    build_index(fixture_store, tmp_path / "plain", embedder="bm25-only", progress=False)
    assert read_manifest(tmp_path / "plain")["counts"]["learned_pairs"] == 0
    assert SEVERANCE not in _top_ids(tmp_path / "plain", fixture_store, "遣散费有多少")


def test_an_edited_question_file_rebuilds_and_a_broken_one_keeps_the_old_index(fixture_store, tmp_path,
                                                                              monkeypatch):
    lay = _write(tmp_path / "lay.jsonl", QUESTIONS[:2])
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(lay))
    first = build_index(fixture_store, tmp_path / "index", embedder="bm25-only", progress=False)
    assert build_index(fixture_store, tmp_path / "index", embedder="bm25-only", progress=False).reused
    _write(lay, QUESTIONS)  # the file changed: the next update is a new build
    second = build_index(fixture_store, tmp_path / "index", embedder="bm25-only", progress=False)
    assert not second.reused and second.build != first.build
    assert read_manifest(tmp_path / "index")["counts"]["learned_pairs"] == 4

    lay.write_text(lay.read_text(encoding="utf-8") + '{"id": "bad", "query": 12}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"lay\.jsonl:5: field 'query'"):
        build_index(fixture_store, tmp_path / "index", embedder="bm25-only", progress=False)
    assert read_manifest(tmp_path / "index")["build"] == second.build  # the old index still serves
    assert _top_ids(tmp_path / "index", fixture_store, "遣散费有多少")[0] == SEVERANCE


def test_a_deployments_own_learned_file_wins_over_the_packaged_questions(fixture_store, tmp_path, monkeypatch):
    from assistant.search.learned import learn_from_questions, save

    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(_write(tmp_path / "lay.jsonl", QUESTIONS)))
    index_dir = tmp_path / "home" / "search"
    build_index(fixture_store, index_dir, embedder="bm25-only", progress=False)
    retriever = load_retriever(store=fixture_store, index_dir=index_dir, build_if_missing=False, progress=False)
    own = learn_from_questions(_write(tmp_path / "own.jsonl", QUESTIONS[3:]), fixture_store, retriever.index.ids,
                               retriever.index.lexical, retriever.query_tokens)
    save(own, tmp_path / "home" / "learned_terms.json")
    reloaded = load_retriever(store=fixture_store, index_dir=index_dir, build_if_missing=False, progress=False)
    assert "遣散费" not in reloaded.learned.term_map and "遣散费" in retriever.learned.term_map


def test_the_packaged_lay_questions_are_well_formed():
    rows = read_question_rows(PACKAGED_QUESTIONS)
    assert len(rows) >= 300
    assert len({r["id"] for r in rows}) == len(rows)
    assert all(r["gold"] and all(n > 0 for _, n, _ in r["gold"]) for r in rows)
