"""Training data: SFT formats, prompt masking built by hand from the tokenizer, registry mixing, CPT packing,
and SFT examples generated from the corpus."""
from __future__ import annotations

import json

import pytest

from assistant.data.datasets import DatasetError
from assistant.train.data.formats import SFTExample, load_sft_file
from assistant.train.data.masking import IGNORE_INDEX, MaskingConfig, encode_example, make_collator


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def enc(tok, text):
    return tok.encode(text, add_special_tokens=False)


def test_tokenizer_has_no_unknowns_and_round_trips(tok):
    text = "醉驾怎么处罚？鑫龘𠀀 第133条之一 ABC"  # characters the tokenizer never saw, incl. outside the BMP
    ids = enc(tok, text)
    assert tok.unk_token_id not in ids
    assert tok.decode(ids) == text
    assert tok.eos_token == "</s>" and tok.pad_token_id == 0 and tok.bos_token_id is not None
    assert tok("第一条")["input_ids"] == enc(tok, "第一条")  # no special tokens are added


def test_alpaca_single_turn_masking_exact(tok, tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text(json.dumps({"instruction": "醉驾怎么处罚？", "input": "刑法", "output": "处拘役，并处罚金。"},
                            ensure_ascii=False) + "\n", encoding="utf-8")
    [ex] = load_sft_file(f)
    row = encode_example(ex, tok, MaskingConfig())
    source = enc(tok, "[Round 1]\n\n问：醉驾怎么处罚？\n刑法\n\n答：")
    target = enc(tok, "处拘役，并处罚金。") + [tok.eos_token_id]
    assert row["input_ids"] == source + target
    assert row["labels"] == [IGNORE_INDEX] * len(source) + target


def test_alpaca_history_and_system_are_prompt_only(tok):
    ex = SFTExample([("问一", "答一"), ("问二", "答二")], system="你是法律助手。")
    row = encode_example(ex, tok, MaskingConfig())
    source = enc(tok, "[Round 1]\n\n问：问一\n\n答：答一\n\n[Round 2]\n\n问：你是法律助手。\n\n问二\n\n答：")
    target = enc(tok, "答二") + [tok.eos_token_id]
    assert row["input_ids"] == source + target
    assert row["labels"] == [IGNORE_INDEX] * len(source) + target


def test_sharegpt_multi_turn_learns_every_reply(tok, tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps([{"conversations": [
        {"from": "human", "value": "什么是结婚自由？"}, {"from": "gpt", "value": "结婚应当男女双方完全自愿。"},
        {"from": "human", "value": "出处？"}, {"from": "gpt", "value": "民法典第1046条。"}]}], ensure_ascii=False),
        encoding="utf-8")
    [ex] = load_sft_file(f)
    assert ex.learn_all_turns
    row = encode_example(ex, tok, MaskingConfig())
    s1 = enc(tok, "[Round 1]\n\n问：什么是结婚自由？\n\n答：")
    t1 = enc(tok, "结婚应当男女双方完全自愿。") + [tok.eos_token_id]
    s2 = enc(tok, "\n\n[Round 2]\n\n问：出处？\n\n答：")
    t2 = enc(tok, "民法典第1046条。") + [tok.eos_token_id]
    assert row["input_ids"] == s1 + t1 + s2 + t2
    assert row["labels"] == [IGNORE_INDEX] * len(s1) + t1 + [IGNORE_INDEX] * len(s2) + t2


def test_adgen_and_separate_truncation_budgets(tok, tmp_path):
    f = tmp_path / "adgen.jsonl"
    f.write_text(json.dumps({"content": "类型#裙*颜色#红色*风格#复古", "summary": "这款红色复古连衣裙优雅大方。"},
                            ensure_ascii=False) + "\n", encoding="utf-8")
    [ex] = load_sft_file(f)
    full_source = enc(tok, "[Round 1]\n\n问：类型#裙*颜色#红色*风格#复古\n\n答：")
    full_target = enc(tok, "这款红色复古连衣裙优雅大方。")
    assert len(full_source) > 6 and len(full_target) > 4
    right = encode_example(ex, tok, MaskingConfig(max_source_length=6, max_target_length=4))
    assert right["input_ids"] == full_source[:6] + full_target[:4] + [tok.eos_token_id]
    assert right["labels"] == [IGNORE_INDEX] * 6 + full_target[:4] + [tok.eos_token_id]
    left = encode_example(ex, tok, MaskingConfig(max_source_length=6, max_target_length=4, source_truncation="left"))
    assert left["input_ids"][:6] == full_source[-6:]


def test_collator_pads_labels_with_ignore_index(tok):
    rows = [encode_example(SFTExample([(q, a)]), tok, MaskingConfig()) for q, a in (("问", "答"), ("长一点的问题", "长一点的回答内容"))]
    batch = make_collator(tok)(rows)
    short, long_ = sorted(rows, key=lambda r: len(r["input_ids"]))
    n = len(long_["input_ids"])
    assert batch["input_ids"].shape == (2, n)
    pad = n - len(rows[0]["input_ids"])
    assert batch["labels"][0].tolist() == rows[0]["labels"] + [IGNORE_INDEX] * pad
    assert batch["input_ids"][0].tolist() == rows[0]["input_ids"] + [tok.pad_token_id] * pad
    assert batch["attention_mask"][0].tolist() == [1] * len(rows[0]["input_ids"]) + [0] * pad


def test_bad_records_name_file_line_and_field(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"instruction": "a", "output": "b"}\n{"instruction": "c"}\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad\.jsonl:2: missing field 'output'"):
        load_sft_file(f, "alpaca")
    g = tmp_path / "broken.jsonl"
    g.write_text('{"instruction": "a", "output": "b"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"broken\.jsonl:2: invalid JSON"):
        load_sft_file(g)
    h = tmp_path / "conv.jsonl"
    h.write_text(json.dumps({"messages": [{"role": "assistant", "content": "x"}]}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="without a question"):
        load_sft_file(h)


def test_registry_by_name_and_weighted_mixing(tmp_path):
    from assistant.train.data.registry import load_mixture

    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"instruction": f"a{i}", "output": "x"}) + "\n" for i in range(10)))
    b.write_text("".join(json.dumps({"content": f"b{i}", "summary": "y"}) + "\n" for i in range(4)))
    reg = tmp_path / "datasets.yaml"
    reg.write_text("alpha:\n  path: a.jsonl\n  format: alpaca\nbeta: b.jsonl\n", encoding="utf-8")
    mixed, sizes = load_mixture(["alpha", "beta"], [1, 3], str(reg), max_samples=20, seed=1)
    assert sizes == {"alpha": 10, "beta": 4}
    from_a = [e for e in mixed if e.turns[0][0].startswith("a")]
    assert len(mixed) == 20 and len(from_a) == 5  # 1/4 of 20; beta (4 rows) repeated up to 15
    mixed2, sizes2 = load_mixture([f"gamma={a}"], None, None)
    assert sizes2 == {"gamma": 10} and len(mixed2) == 10
    with pytest.raises(KeyError, match="unknown dataset 'nope'"):
        load_mixture(["nope"], None, str(reg))


def test_cpt_packing_blocks_are_the_eos_joined_stream(tok):
    from assistant.train.data.cpt import pack_documents

    docs = ["第一条 为了规范劳动合同。", "第二条 本法适用于企业。", "第三条 订立劳动合同，应当遵循合法、公平原则。"]
    stream = [t for d in docs for t in enc(tok, d) + [tok.eos_token_id]]
    B = next(b for b in (8, 7, 9, 6, 11) if len(stream) % b)  # a block size that leaves a tail
    rows, report = pack_documents(docs, tok, B)
    assert [t for r in rows for t in r["input_ids"]] == stream[: len(rows) * B]
    assert report.dropped_tokens == len(stream) % B and report.efficiency == 1.0
    assert all(r["labels"] == r["input_ids"] for r in rows)
    rows2, report2 = pack_documents(docs, tok, B, keep_last=True)
    tail = len(stream) % B
    assert report2.pad_tokens == B - tail and rows2[-1]["labels"][tail:] == [IGNORE_INDEX] * (B - tail)
    assert report2.efficiency == pytest.approx(len(stream) / (len(rows2) * B))


def test_law_documents_and_general_mix(fixture_store):
    from assistant.train.data.cpt import law_documents, mix_general

    docs = law_documents(fixture_store)
    xingfa = next(d for d in docs if d.startswith("中华人民共和国刑法"))
    assert "第一百三十三条之一" in xingfa
    art = fixture_store.find("中华人民共和国刑法", 133, "之一")
    assert art.text in xingfa
    # one document per law in force, each opening with its law's title
    names = fixture_store.law_names()
    assert all(any(d.startswith(n) for n in names) for d in docs) and len(docs) <= len(names)
    general = ["今天天气很好。" * 10] * 3
    mixed = mix_general(docs, general, 0.5, seed=0)
    general_chars = sum(len(d) for d in mixed if d.startswith("今天"))
    assert general_chars >= sum(map(len, docs)) and general_chars < sum(map(len, docs)) + len(general[0])


def test_generated_sft_uses_the_apps_prompt_and_cites_the_gold_article(fixture_store, tok):
    from assistant.answer.check import CitationChecker
    from assistant.answer.prompt import build_messages, render_chatglm2
    from assistant.search.types import Hit
    from assistant.train.data.generate import ABSTAIN_ANSWER, generate_sft
    from assistant.data.datasets import convert_row
    from assistant.train.data.formats import sft_example

    rows = generate_sft(fixture_store, seed=3)
    kinds = {r["kind"] for r in rows}
    assert kinds == {"recitation", "locate", "rag", "abstain"}
    rag = next(r for r in rows if r["kind"] == "rag")
    gold = fixture_store.get(rag["id"])
    # the training source must equal the app's prompt for the same question and context
    ex = sft_example(convert_row(rag, "alpaca", "gen-1"))
    row = encode_example(ex, tok, MaskingConfig(max_source_length=4096))
    n_source = sum(1 for x in row["labels"] if x == IGNORE_INDEX)
    context_ids = []
    for line in rag["instruction"].splitlines():
        if line.startswith("["):
            context_ids.append(line)
    question = rag["instruction"].rsplit("问题：", 1)[1]
    labels_in_order = [ln.split("] ", 1)[1].rsplit("（", 1)[0] for ln in context_ids]
    hits = []
    for label in labels_in_order:
        art = next(a for a in fixture_store.articles() if a.label == label)
        hits.append(Hit(art, 1.0, len(hits) + 1, "bm25"))
    messages, _ = build_messages(question, hits)
    assert row["input_ids"][:n_source] == enc(tok, render_chatglm2(messages))
    assert gold.label in labels_in_order
    checks = CitationChecker(fixture_store).check(rag["output"])
    assert checks and all(c.exists for c in checks) and checks[0].citation.id == gold.id
    abstain = next(r for r in rows if r["kind"] == "abstain")
    assert abstain["output"] == ABSTAIN_ANSWER
    assert fixture_store.get(abstain["id"]).label not in abstain["instruction"]


def test_generated_rag_answers_quote_the_article_first_and_cite_only_its_marker(fixture_store):
    import re

    from assistant.train.data.generate import generate_sft

    rows = generate_sft(fixture_store, kinds=["rag"], seed=1)
    assert rows
    for r in rows:
        gold = fixture_store.get(r["id"])
        answer, citation = r["output"].split("（依据：")
        # the answer comes first and is the article's own words
        assert answer in gold.text
        marker = next(int(m.group(1)) for m in re.finditer(r"^\[(\d+)\] (.+)（", r["instruction"], re.M)
                      if m.group(2) == gold.label)
        assert citation == f"{gold.label}[{marker}]）。"
        assert re.findall(r"\[\d+\]", r["output"]) == [f"[{marker}]"]  # only the right article is cited


def test_eval_gold_articles_never_become_training_gold(fixture_store, tmp_path):
    from assistant.data.gold import key_from_article_id
    from assistant.train.data.generate import generate_sft, gold_article_ids

    arts = [a for a in fixture_store.articles(in_force_only=True)][:3]
    rows_file = tmp_path / "dev.jsonl"
    law, number, _ = key_from_article_id(arts[0].id)
    other_law, other_number, _ = key_from_article_id(arts[2].id)
    rows_file.write_text(json.dumps({"query": "q", "law": law, "articles": [number],
                                     "citations": [{"law": other_law, "article": other_number}]},
                                    ensure_ascii=False) + "\n", encoding="utf-8")
    held = gold_article_ids(fixture_store, [rows_file])
    assert {arts[0].id, arts[2].id} <= held
    rows = generate_sft(fixture_store, kinds=["rag", "recitation", "abstain"], exclude_ids=held, seed=0)
    assert rows and not held & {r["id"] for r in rows}


def test_rag_prompts_pack_the_context_to_the_budget_the_backend_counts(fixture_store, tok):
    from assistant.answer.prompt import PromptConfig
    from assistant.train.data.generate import generate_sft

    count = lambda text: len(tok.encode(text, add_special_tokens=False))  # noqa: E731
    small = generate_sft(fixture_store, kinds=["rag"], seed=2, distractors=4,
                         prompt_config=PromptConfig(context_budget=120), count_tokens=count)
    large = generate_sft(fixture_store, kinds=["rag"], seed=2, distractors=4,
                         prompt_config=PromptConfig(context_budget=4000), count_tokens=count)
    for r in small:
        context = r["instruction"].split("参考法条：\n", 1)[1].rsplit("\n\n问题：", 1)[0]
        blocks = [b for b in context.split("\n\n") if b.startswith("[")]
        assert sum(count(b) + 1 for b in blocks) <= 120 or len(blocks) == 1
    n_articles = lambda rows: sum(r["instruction"].count("（现行有效）") for r in rows)  # noqa: E731
    assert n_articles(small) < n_articles(large)
