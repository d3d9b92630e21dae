"""Cross-encoder reranking of the top candidates (`--reranker PATH`) and domain adaptation of the retrieval
models on the question set (`assistant train reranker|embedder`), with tiny models built here from a tiny BERT
config and a tokenizer trained on the fixture statutes: nothing is downloaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from assistant.search import SearchConfig, build_index, load_retriever  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CIVIL = "中华人民共和国民法典"
QUERY = "夫妻离婚 婚姻登记机关 离婚登记"


def _tiny_bert(folder: Path, layers: int = 2) -> Path:
    """A random BERT with a byte-level BPE tokenizer trained on the fixture statutes."""
    import torch
    from transformers import BertConfig, BertModel

    from assistant.train.tiny import train_tokenizer
    from tests.conftest import fixture_documents

    tok = train_tokenizer([a.text for d in fixture_documents() for a in d.articles], vocab_size=600)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=512,
                         pad_token_id=tok.pad_token_id)).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_bert_dir(tmp_path_factory) -> Path:
    return _tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


@pytest.fixture(scope="module")
def tiny_cross_encoder_dir(tiny_bert_dir, tmp_path_factory) -> Path:
    """A sentence-transformers CrossEncoder folder (the BERT above + a seeded score head)."""
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(1)
    out = tmp_path_factory.mktemp("ce") / "tiny-reranker"
    CrossEncoder(str(tiny_bert_dir), num_labels=1, device="cpu", max_length=256).save(str(out))
    return out


@pytest.fixture(scope="module")
def tiny_st_dir(tiny_bert_dir, tmp_path_factory) -> Path:
    from sentence_transformers import SentenceTransformer, models

    out = tmp_path_factory.mktemp("st") / "tiny-embedder"
    word = models.Transformer(str(tiny_bert_dir), max_seq_length=256)
    dim = (getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension)()
    SentenceTransformer(modules=[word, models.Pooling(dim, "mean")], device="cpu").save(str(out))
    return out


def _expected_order(folder: Path, query: str, hits) -> list[str]:
    """The order the cross-encoder alone gives these articles, computed here without the search code."""
    from sentence_transformers import CrossEncoder

    from assistant.search.rerank import passage_text, query_text

    scores = CrossEncoder(str(folder), device="cpu").predict([(query_text(query), passage_text(h.article))
                                                              for h in hits])
    assert len(set(np.round(scores, 6))) == len(hits), "ties would make the expected order ambiguous"
    return [h.id for _, h in sorted(zip(scores.tolist(), hits), key=lambda x: -x[0])]


def test_reranker_orders_the_top_candidates_by_the_cross_encoder(fixture_store, tmp_path, tiny_cross_encoder_dir):
    from assistant.search.rerank import CrossEncoderReranker
    from assistant.search.retriever import Retriever

    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    base = load_retriever(fixture_store, idx, build_if_missing=False, reranker=None)
    first_stage = base.search(QUERY, top_k=5)
    assert len(first_stage) == 5
    reranker = CrossEncoderReranker(tiny_cross_encoder_dir)
    r = Retriever(fixture_store, base.index, None, SearchConfig(rerank_candidates=5, law_first=False),
                  reranker=reranker)
    hits = r.search(QUERY, top_k=5)
    assert sorted(h.id for h in hits) == sorted(h.id for h in first_stage)  # the same candidates, re-sorted
    expected = _expected_order(tiny_cross_encoder_dir, QUERY, first_stage)
    assert [h.id for h in hits] == expected
    assert expected != [h.id for h in first_stage]  # the stage changed something
    assert reranker.scored == 5  # one batch over the candidates
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert r.info()["learned_models"]["reranker"]["path"] == str(tiny_cross_encoder_dir)

    # weight 0: the first stage's order stands (the stage is a blend, not a replacement, below 1)
    keep = Retriever(fixture_store, base.index, None, SearchConfig(rerank_candidates=5, rerank_weight=0.0,
                                                                   law_first=False), reranker=reranker)
    assert [h.id for h in keep.search(QUERY, top_k=5)] == [h.id for h in first_stage]


def test_without_a_usable_reranker_search_is_unchanged(fixture_store, tmp_path, monkeypatch, caplog):
    from assistant.search.rerank import RerankerError, make_reranker

    idx = tmp_path / "search"
    build_index(fixture_store, idx, embedder="bm25-only", progress=False)
    monkeypatch.delenv("ASSISTANT_RERANKER", raising=False)
    plain = load_retriever(fixture_store, idx, build_if_missing=False)
    assert plain.reranker is None and plain.info()["learned_models"]["reranker"] is None
    expected = [h.id for h in plain.search(QUERY, top_k=5)]

    missing = tmp_path / "no-such-model"
    monkeypatch.setenv("ASSISTANT_RERANKER", str(missing))
    with caplog.at_level("WARNING"):
        r = load_retriever(fixture_store, idx, build_if_missing=False)
    assert r.reranker is None and "no such folder" in caplog.text
    assert [h.id for h in r.search(QUERY, top_k=5)] == expected
    with pytest.raises(RerankerError, match="no such folder"):
        make_reranker(str(missing), strict=True)
    not_a_model = tmp_path / "empty"
    not_a_model.mkdir()
    with pytest.raises(RerankerError, match="config.json"):
        make_reranker(str(not_a_model), strict=True)
    monkeypatch.setenv("ASSISTANT_RERANKER", "none")
    assert load_retriever(fixture_store, idx, build_if_missing=False).reranker is None


def _cli(home: Path, *args, check=True):
    env = dict(os.environ, ASSISTANT_HOME=str(home), PYTHONPATH=str(ROOT))
    env.pop("ASSISTANT_RERANKER", None)
    out = subprocess.run([sys.executable, "-m", "assistant.cli", *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=600)
    if check:
        assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory, fixture_corpus_dir):
    """A home with the fixture statutes and a BM25 index, built through the CLI."""
    home = tmp_path_factory.mktemp("home")
    for f in sorted(fixture_corpus_dir.iterdir()):
        _cli(home, "corpus", "import", f)
    _cli(home, "index", "build", "--embedder", "bm25-only", "--json")
    return home


def test_cli_search_ask_eval_and_serve_take_the_reranker(cli_home, tmp_path, tiny_cross_encoder_dir, store):
    plain = json.loads(_cli(cli_home, "search", QUERY, "--top-k", "5", "--json").stdout)
    reranked = json.loads(_cli(cli_home, "search", QUERY, "--top-k", "5", "--json", "--reranker",
                               tiny_cross_encoder_dir).stdout)
    assert sorted(h["id"] for h in reranked) == sorted(h["id"] for h in plain)
    assert [h["id"] for h in reranked] != [h["id"] for h in plain]

    bad = _cli(cli_home, "search", QUERY, "--reranker", tmp_path / "nowhere", check=False)
    assert bad.returncode == 2 and "no such folder" in bad.stderr

    # eval retrieval ranks with the reranker too: its ranking is the reranked search's
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"query": QUERY, "citations": [{"law": "民法典", "article": 1076}]},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    _cli(cli_home, "eval", "retrieval", "--data", data, "--top-k", "5", "--out", tmp_path / "m.json", "--reranker",
         tiny_cross_encoder_dir)
    row = json.loads((tmp_path / "m.json").read_text("utf-8"))["rows"][0]
    assert row["retrieved"] == [f"{h['law']}#{h['number']}" for h in reranked]

    answer = json.loads(_cli(cli_home, "ask", "离婚登记要带什么", "--json", "--reranker",
                             tiny_cross_encoder_dir).stdout)
    assert answer["sources"]

    # serve: the option is parsed and handed to every retriever the process opens
    from assistant.cli import build_parser
    from assistant.search.rerank import apply_reranker_option

    args = build_parser().parse_args(["serve", "--reranker", str(tiny_cross_encoder_dir)])
    old = os.environ.pop("ASSISTANT_RERANKER", None)
    try:
        apply_reranker_option(args)
        assert os.environ["ASSISTANT_RERANKER"] == str(tiny_cross_encoder_dir.resolve())
    finally:
        os.environ.pop("ASSISTANT_RERANKER", None)
        if old is not None:
            os.environ["ASSISTANT_RERANKER"] = old


def _question_file(path: Path) -> Path:
    """Everyday questions about the fixture statutes, with a learn / heldout split."""
    rows = [("协议离婚要去哪里登记", "民法典", 1076), ("两口子都同意离婚，怎么办手续", "民法典", 1076),
            ("离婚冷静期是多少天", "民法典", 1077), ("去民政局申请离婚后还能反悔吗", "民法典", 1077),
            ("对方不同意离婚，我能去法院起诉吗", "民法典", 1079), ("法院什么情况下会判离婚", "民法典", 1079),
            ("醉酒开车会怎么判", "刑法", 133), ("开车撞死人逃跑怎么处理", "刑法", 133),
            ("故意杀人判几年", "刑法", 232), ("把人打成轻伤要坐牢吗", "刑法", 234),
            ("公司不签劳动合同怎么办", "劳动合同法", 10), ("被辞退有没有经济补偿", "劳动合同法", 47)]
    lines = [{"id": f"q{i}", "query": q, "citations": [{"law": law, "article": n}], "split": "learn"}
             for i, (q, law, n) in enumerate(rows)]
    lines.append({"id": "held", "query": "严重违反规章制度能开除吗", "citations": [{"law": "劳动合同法", "article": 39}],
                  "split": "heldout"})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    return path


def _mean_reciprocal_rank(model_dir: Path, data: Path, store) -> float:
    """MRR of the gold article among all fixture articles, by the cross-encoder alone, on the learn rows."""
    import torch
    from sentence_transformers import CrossEncoder

    from assistant.search.rerank import passage_text, query_text

    torch.manual_seed(1)  # a base without a score head gets the same random one each time
    model = CrossEncoder(str(model_dir), num_labels=1, device="cpu")
    articles = list(store.articles())
    resolver = store.resolver()
    ranks = []
    for line in data.read_text("utf-8").splitlines():
        row = json.loads(line)
        if row["split"] != "learn":
            continue
        c = row["citations"][0]
        gold = f"{resolver.resolve(c['law'])}#{c['article']}"
        scores = model.predict([(query_text(row["query"]), passage_text(a)) for a in articles])
        order = [articles[i].id for i in np.argsort(-scores, kind="stable")]
        ranks.append(1.0 / (order.index(gold) + 1))
    return float(np.mean(ranks))


def test_train_reranker_learns_from_the_question_set_and_serves_as_reranker(cli_home, tmp_path, tiny_bert_dir,
                                                                             store):
    data = _question_file(tmp_path / "questions.jsonl")
    out = tmp_path / "reranker"
    summary = json.loads(_cli(cli_home, "train", "reranker", "--base", tiny_bert_dir, "--out", out, "--data", data,
                              "--steps", "80", "--batch-size", "4", "--negatives", "3", "--negative-pool", "10",
                              "--method", "full", "--lr", "3e-3", "--json").stdout)
    assert summary["rows"] == 13 and summary["learn_rows"] == 12 and summary["questions"] == 12
    assert summary["steps"] == 80 and len(summary["config"]) and summary["parameters"]["trainable"] > 0
    assert "BM25" in summary["negatives_from"]
    # the listwise loss starts near ln(4) (a random head cannot tell gold from 3 negatives) and falls
    assert abs(summary["loss_first"] - np.log(4)) < 0.5 and summary["loss_last"] < summary["loss_first"] - 0.3
    assert (out / "loss.png").stat().st_size > 1000 and (out / "train_summary.json").is_file()
    saved = json.loads((out / "train_summary.json").read_text("utf-8"))
    assert len(saved["log_history"]) == 80

    # it ranks the gold articles of the questions it learned from higher among all the fixture articles
    assert _mean_reciprocal_rank(out, data, store) > _mean_reciprocal_rank(tiny_bert_dir, data, store) + 0.15
    # the reranker re-orders the first stage's best 20: its top 3 come from among them
    plain = json.loads(_cli(cli_home, "search", "协议离婚要去哪里登记", "--top-k", "20", "--json").stdout)
    hits = json.loads(_cli(cli_home, "search", "协议离婚要去哪里登记", "--top-k", "3", "--json", "--reranker",
                           out).stdout)
    assert len(hits) == 3 and {h["id"] for h in hits} <= {h["id"] for h in plain}

    # adapter-only: only the last layer and the head (BERT's pooler + score) change
    top = tmp_path / "reranker-top"
    _cli(cli_home, "train", "reranker", "--base", tiny_bert_dir, "--out", top, "--data", data, "--steps", "3",
         "--batch-size", "2", "--negatives", "1", "--negative-pool", "3", "--json")
    from safetensors.numpy import load_file

    before = load_file(str(tiny_bert_dir / "model.safetensors"))
    after = load_file(str(next(top.rglob("model.safetensors"))))
    changed = {k for k in before if ("bert." + k if not k.startswith("bert.") else k) in after
               and not np.allclose(before[k], after["bert." + k if not k.startswith("bert.") else k])}
    assert changed and all(".layer.1." in k or k.startswith("pooler.") for k in changed), changed
    assert any(".layer.1." in k for k in changed)


def test_train_embedder_with_lora_writes_an_st_folder_the_index_uses(cli_home, tmp_path, tiny_st_dir):
    data = _question_file(tmp_path / "questions.jsonl")
    out = tmp_path / "embedder"
    summary = json.loads(_cli(cli_home, "train", "embedder", "--base", tiny_st_dir, "--out", out, "--data", data,
                              "--steps", "4", "--batch-size", "4", "--negatives", "1", "--negative-pool", "3",
                              "--method", "lora", "--json").stdout)
    assert summary["kind"] == "embedder" and summary["method"] == "lora" and summary["questions"] == 12
    assert 0 < summary["parameters"]["trainable"] < summary["parameters"]["total"]
    assert (out / "loss.png").is_file()
    assert not list(out.rglob("adapter_config.json"))  # merged: a plain sentence-transformers folder

    from sentence_transformers import SentenceTransformer

    q = "离婚冷静期是多少天"
    v0 = SentenceTransformer(str(tiny_st_dir), device="cpu").encode([q])[0]
    v1 = SentenceTransformer(str(out), device="cpu").encode([q])[0]
    assert not np.allclose(v0, v1)  # the LoRA update reached the saved weights

    home = tmp_path / "home2"
    _cli(home, "corpus", "import", ROOT / "tests" / "fixtures" / "corpus" / "minfadian_mini.jsonl")
    built = json.loads(_cli(home, "index", "build", "--embedder", f"st:{out}", "--json").stdout)
    assert built["embedded"] > 0
    assert json.loads(_cli(home, "search", q, "--top-k", "3", "--json").stdout)


def test_train_refuses_bad_input_with_a_clear_error(cli_home, tmp_path, tiny_bert_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "离婚", "citations": [{"law": "民法典", "article": "x"}]}\n', encoding="utf-8")
    r = _cli(cli_home, "train", "reranker", "--base", tiny_bert_dir, "--out", tmp_path / "o", "--data", bad,
             check=False)
    assert r.returncode == 2 and f"{bad}:1" in r.stderr and "citations[0].article" in r.stderr
    r = _cli(cli_home, "train", "embedder", "--base", tmp_path, "--out", tmp_path / "o", check=False)
    assert r.returncode == 2 and "config.json" in r.stderr
    r = _cli(cli_home, "train", "reranker", "--base", tiny_bert_dir, "--out", tmp_path / "o", "--bogus", "1",
             check=False)
    assert r.returncode == 2 and "--bogus" in r.stderr
