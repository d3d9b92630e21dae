"""SFT data from the question set: the app's own prompt for each learn question (the real pipeline over the
fixture index), targets written from the article text and joined by question id, the citation and number
checks on every target, deduplication, the abstention share, the output formats through the registry, the
shipped file, and `assistant data cpt` feeding `train pt`."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    {"id": "t-1", "query": "离婚冷静期多久", "citations": [{"law": "民法典", "article": 1077}], "clause": 1,
     "key_fact": "三十日", "split": "learn"},
    {"id": "t-2", "query": "公司一直不和我签书面劳动合同，多久之内必须签", "citations": [{"law": "劳动合同法", "article": 10}],
     "clause": 2, "key_fact": "一个月内", "split": "learn"},
    {"id": "t-3", "query": "喝醉了开车被查到会怎么处理", "citations": [{"law": "刑法", "article": 133, "suffix": "之一"}],
     "clause": 3, "key_fact": "醉酒驾驶机动车", "split": "learn"},
    {"id": "t-4", "query": "被公司辞退了经济补偿怎么算", "citations": [{"law": "劳动合同法", "article": 47}], "clause": 1,
     "key_fact": "每满一年支付一个月工资", "split": "learn"},
    {"id": "t-5", "query": "离婚冷静期多久", "citations": [{"law": "民法典", "article": 1077}], "clause": 1,
     "key_fact": "三十日", "split": "learn"},  # the same question again: kept once
    {"id": "t-6", "query": "故意杀人判几年", "citations": [{"law": "刑法", "article": 232}], "clause": 1,
     "key_fact": None, "split": "heldout"},  # a held-out article: never read
]


def _writer():
    spec = importlib.util.spec_from_file_location("write_sft_targets", ROOT / "scripts" / "write_sft_targets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def question_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "questions.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def prompts(store, retriever, question_file):
    from assistant.train.data.questions import build_prompts, read_questions

    return [p.to_dict() for p in build_prompts(store, retriever, read_questions(question_file))]


@pytest.fixture(scope="module")
def targets(store, prompts):
    writer = _writer()
    by_id = {q["id"]: q for q in QUESTIONS}
    rows = [writer.write_target(by_id[p["id"]], p, store) for p in prompts]
    return {r["id"]: r for r in rows if r is not None}


def test_read_questions_takes_learn_rows_and_names_bad_fields(question_file, tmp_path):
    from assistant.train.data.questions import QuestionSetError, read_questions

    assert [q.id for q in read_questions(question_file)] == ["t-1", "t-2", "t-3", "t-4", "t-5"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "query": "x", "citations": [{"law": "刑法", "article": 1}], "split": "learn"}\n'
                   '{"id": "b", "query": "y", "citations": [{"law": "刑法"}], "split": "learn"}\n', encoding="utf-8")
    with pytest.raises(QuestionSetError, match=r"bad.jsonl:2: field 'citations'"):
        read_questions(bad)


def test_prompt_is_what_the_app_sends(store, retriever, prompts):
    """The recorded prompt equals the messages the real pipeline hands a small-model backend."""
    from assistant.answer.backends.base import Backend
    from assistant.answer.pipeline import GroundedAssistant
    from assistant.answer.prompt import SHORT_INSTRUCTION

    class Capture(Backend):
        name = "capture"
        short_context = True

        def stream(self, request):
            self.request = request
            yield "好"

    backend = Capture()
    app = GroundedAssistant(retriever, backend, store)
    for p in prompts[:2]:
        app.ask(QUESTIONS[[q["id"] for q in QUESTIONS].index(p["id"])]["query"])
        assert p["messages"] == backend.request.messages
        assert p["context_ids"] == [h.id for h in backend.request.hits]
        assert p["messages"][0]["content"] == SHORT_INSTRUCTION
        for k, text in enumerate(p["context_texts"], 1):  # the text shown for [k]
            assert f"[{k}] " in p["messages"][-1]["content"] and text in p["messages"][-1]["content"]


def test_targets_answer_first_cite_the_marker_and_pass_the_checks(store, prompts, targets):
    from assistant.answer.check import CitationChecker
    from assistant.train.data.question_sft import check_target

    checker = CitationChecker(store)
    assert targets, "no target written"
    for p in prompts:
        t = targets.get(p["id"])
        if t is None:
            continue
        gold_in = p["gold"][0] in p["context_ids"]
        assert t["kind"] == ("answer" if gold_in else "abstain")
        assert check_target(t["target"], t["kind"], p["context_ids"], p["gold"], store, checker, t["query"]) == []
        if gold_in:
            k = p["context_ids"].index(p["gold"][0]) + 1
            lead, basis = t["target"].split("\n")[:2]
            assert basis.startswith("根据《") and f"[{k}]的规定，“" in basis
            fact = next(q["key_fact"] for q in QUESTIONS if q["id"] == p["id"])
            assert fact in lead  # the answer comes first, with the key fact
    t1 = targets["t-1"]
    assert t1["kind"] == "answer" and t1["target"].split("\n")[0].endswith("可以向婚姻登记机关撤回离婚登记申请。")


def test_abstention_when_the_context_lacks_the_gold(store, prompts):
    from assistant.answer.check import CitationChecker
    from assistant.train.data.question_sft import check_target

    writer = _writer()
    p = dict(prompts[0], context_ids=[i for i in prompts[0]["context_ids"] if i != prompts[0]["gold"][0]])
    p["context_texts"] = p["context_texts"][:len(p["context_ids"])]
    t = writer.write_target(QUESTIONS[0], p, store)
    assert t["kind"] == "abstain" and "《" not in t["target"]
    assert check_target(t["target"], "abstain", p["context_ids"], p["gold"], store, CitationChecker(store)) == []


def test_checks_reject_invented_numbers_citations_outside_the_context_and_silent_abstentions(store, prompts):
    from assistant.answer.check import CitationChecker
    from assistant.train.data.question_sft import check_target

    checker = CitationChecker(store)
    ids = ["中华人民共和国民法典#1077"]
    good = "根据《中华人民共和国民法典》第一千零七十七条[1]的规定，自婚姻登记机关收到离婚登记申请之日起三十日内，可以撤回离婚登记申请。"
    assert check_target(good, "answer", ids, ids, store, checker) == []
    wrong_number = good.replace("三十日", "六十日")
    assert any("六十日" in p for p in check_target(wrong_number, "answer", ids, ids, store, checker))
    outside = good + "\n另见《中华人民共和国劳动合同法》第十条[2]的规定，建立劳动关系，应当订立书面劳动合同。"
    assert any("not_in_context" in p for p in check_target(outside, "answer", ids, ids, store, checker))
    assert check_target("应当在三十日内撤回。", "abstain", ids, ids, store, checker)  # not an abstention


def test_build_joins_checks_dedups_and_balances(store, question_file, prompts, targets):
    from assistant.train.data.question_sft import build_from_questions
    from assistant.train.data.questions import read_questions

    questions = read_questions(question_file)
    bad = dict(targets)
    answer_id = next(i for i, t in targets.items() if t["kind"] == "answer" and i not in ("t-1", "t-5"))
    bad[answer_id] = dict(bad[answer_id], target=bad[answer_id]["target"] + "\n赔偿金为九十九万元。")
    rows, report = build_from_questions(store, questions, bad, prompts=prompts, abstain_share=0.0)
    assert report.failed_check == 1 and answer_id not in {r["id"] for r in rows}
    assert report.duplicates == (1 if "t-5" in targets and "t-1" in targets else 0)
    assert all(r["kind"] == "answer" for r in rows) and report.abstentions == 0
    moved = [dict(p, context_ids=list(reversed(p["context_ids"]))) if p["id"] == "t-1" else p for p in prompts]
    _, report = build_from_questions(store, questions, targets, prompts=moved)
    assert report.context_changed == (1 if len(prompts[0]["context_ids"]) > 1 else 0)


def test_balance_keeps_every_answer_and_the_abstention_share():
    from assistant.train.data.question_sft import BuildReport, balance

    rows = [{"id": str(i), "kind": "answer"} for i in range(83)]
    rows += [{"id": f"a{i}", "kind": "abstain"} for i in range(60)]
    report = BuildReport()
    out = balance(rows, 0.17, report=report)
    assert report.answers == 83 and report.abstentions == 17 and len(out) == 100
    with pytest.raises(ValueError):
        balance(rows, 1.0)


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "qwen", "chatglm2"])
def test_output_formats_load_through_the_registry_as_the_same_conversation(fmt, tmp_path):
    from assistant.answer.prompt import render_chatglm2
    from assistant.train.data.formats import load_sft_file
    from assistant.train.data.question_sft import OUTPUT_FORMATS, to_format
    from assistant.train.templates import conversation_segments

    row = {"id": "x", "kind": "answer", "target": "答：三十日。",
           "messages": [{"role": "system", "content": "你是法律助手。"}, {"role": "user", "content": "参考法条：…\n\n问题：多久"}]}
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text(json.dumps(to_format(row, fmt), ensure_ascii=False) + "\n", encoding="utf-8")
    ex = load_sft_file(path, OUTPUT_FORMATS[fmt])[0]
    assert ex.turns[-1][1] == "答：三十日。"
    # every format renders, in ChatGLM2's template, to the prompt the app sends ChatGLM2
    prompt = conversation_segments(ex.turns, ex.system, template="chatglm2")[0][0]
    assert prompt == render_chatglm2(row["messages"])


def test_cli_from_questions_with_recorded_prompts(store, question_file, prompts, targets, tmp_path, capsys):
    from assistant.cli import main
    from assistant.config import Paths
    from conftest import build_fixture_store

    Paths().db.parent.mkdir(parents=True, exist_ok=True)
    build_fixture_store(Paths().db).close()
    pfile, tfile = tmp_path / "prompts.jsonl", tmp_path / "targets.jsonl"
    pfile.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prompts), encoding="utf-8")
    tfile.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in targets.values()), encoding="utf-8")
    out = tmp_path / "sft.jsonl"
    assert main(["data", "sft", "--from-questions", "--data", str(question_file), "--prompts", str(pfile),
                 "--targets", str(tfile), "--out", str(out), "--format", "qwen", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert result["rows"] == len(rows) > 0 and result["failed_check"] == 0
    assert all(r["messages"][-1]["role"] == "assistant" for r in rows)
    conv = tmp_path / "glm.jsonl"
    alpaca = tmp_path / "alpaca.jsonl"
    assert main(["data", "sft", "--from-questions", "--data", str(question_file), "--prompts", str(pfile),
                 "--targets", str(tfile), "--out", str(alpaca), "--json"]) == 0
    capsys.readouterr()
    assert main(["data", "convert", str(alpaca), "--format", "chatglm2", "--out", str(conv), "--json"]) == 0
    assert json.loads(conv.read_text(encoding="utf-8").splitlines()[0])["summary"] == \
        json.loads(alpaca.read_text(encoding="utf-8").splitlines()[0])["output"]
    bad = tmp_path / "bad_targets.jsonl"
    bad.write_text('{"id": "t-1", "target": "x", "kind": "maybe", "context_ids": []}\n', encoding="utf-8")
    assert main(["data", "sft", "--from-questions", "--data", str(question_file), "--prompts", str(pfile),
                 "--targets", str(bad), "--out", str(out)]) != 0
    assert "bad_targets.jsonl:1: field 'kind'" in capsys.readouterr().err


def test_shipped_sft_file_is_complete_and_in_the_registry():
    from assistant.answer.prompt import SHORT_INSTRUCTION
    from assistant.train.data.question_sft import SHIPPED_SFT, SHIPPED_TARGETS, read_targets
    from assistant.train.data.registry import load_mixture

    rows = [json.loads(line) for line in SHIPPED_SFT.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 3000 and len({r["id"] for r in rows}) == len(rows)
    share = sum(r["kind"] == "abstain" for r in rows) / len(rows)
    assert 0.15 <= share <= 0.20
    assert all(r["system"] == SHORT_INSTRUCTION and "问题：" in r["instruction"] for r in rows)
    targets = read_targets(SHIPPED_TARGETS)
    assert all(targets[r["id"]]["target"] == r["output"] for r in rows)
    examples, sizes = load_mixture(["legal_sft"], registry=str(ROOT / "assistant/train/configs/datasets.yaml"))
    assert sizes == {"legal_sft": len(rows)}


def test_shipped_targets_pass_the_checks_on_the_default_corpus(default_store):
    """A sample of the shipped rows, re-checked against the real corpus they were written from."""
    import random

    from assistant.answer.check import CitationChecker
    from assistant.train.data.question_sft import SHIPPED_SFT, check_target, read_targets, SHIPPED_TARGETS

    rows = [json.loads(line) for line in SHIPPED_SFT.read_text(encoding="utf-8").splitlines()]
    targets = read_targets(SHIPPED_TARGETS)
    checker = CitationChecker(default_store)
    for r in random.Random(0).sample(rows, 60):
        t = targets[r["id"]]
        assert check_target(r["output"], r["kind"], t["context_ids"], t["gold"], default_store, checker,
                            t["query"]) == [], r["id"]


def test_cpu_configs_train_resume_and_plot_on_the_tiny_model(tiny_model_dir, tmp_path):
    """The qwen05b CPU configs as shipped, on the tiny model and a slice of the shipped file: LoRA trains a few
    steps with checkpoints, resumes from one, and writes the loss curve; P-Tuning v2 runs beside it."""
    from assistant.train.data.question_sft import SHIPPED_SFT
    from assistant.train.trainer import train

    data = tmp_path / "slice.jsonl"
    data.write_text("".join(SHIPPED_SFT.read_text(encoding="utf-8").splitlines(keepends=True)[:8]), encoding="utf-8")
    common = ["--model_name_or_path", str(tiny_model_dir), "--datasets", str(data), "--max_source_length", "256",
              "--max_target_length", "64", "--logging_steps", "1", "--save_steps", "2"]
    cfg = ROOT / "assistant/train/configs/qwen05b_sft_lora.yaml"
    out = tmp_path / "lora"
    first = train("sft", str(cfg), common + ["--max_steps", "2", "--output_dir", str(out)], progress=False)
    assert first["global_step"] == 2 and first["precision"] in ("bf16", "fp32")
    assert (out / "checkpoint-2").is_dir() and (out / "loss.png").stat().st_size > 1000
    resumed = train("sft", str(cfg), common + ["--max_steps", "4", "--output_dir", str(out),
                                               "--resume_from_checkpoint", "true"], progress=False)
    assert resumed["global_step"] == 4
    # the adapter learned the small-model prompt: the transformers backend serves it that prompt
    from assistant.answer.backends.transformers import TransformersBackend

    assert json.loads((out / "prompt_style.json").read_text()) == {"prompt_style": "short"}
    assert TransformersBackend(tiny_model_dir, out).short_context is True
    pt = train("sft", str(ROOT / "assistant/train/configs/qwen05b_sft_ptuning.yaml"),
               common + ["--max_steps", "2", "--output_dir", str(tmp_path / "pt"), "--pre_seq_len", "4",
                         "--prefix_init_text", ""], progress=False)
    assert pt["global_step"] == 2 and pt["method"] == "ptuning"


def test_data_cpt_writes_documents_and_held_out_set_that_train_pt_reads(tiny_model_dir, tmp_path, capsys):
    from assistant.cli import main
    from assistant.config import Paths
    from assistant.train.trainer import train
    from conftest import build_fixture_store

    Paths().db.parent.mkdir(parents=True, exist_ok=True)
    build_fixture_store(Paths().db).close()
    out = tmp_path / "cpt"
    assert main(["data", "cpt", "--out", str(out), "--holdout", "3", "--model", str(tiny_model_dir),
                 "--block-size", "32", "--perplexity", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    held = [json.loads(x)["text"] for x in (out / "heldout.jsonl").read_text(encoding="utf-8").splitlines()]
    docs = [json.loads(x)["text"] for x in (out / "train.jsonl").read_text(encoding="utf-8").splitlines()]
    assert report["heldout_articles"] == 3 == len(held) and report["heldout_perplexity"] > 1
    assert not any(h.split(" ", 1)[1] in d for h in held for d in docs)  # held-out text never trained on
    metrics = train("pt", None, ["--model_name_or_path", str(tiny_model_dir), "--documents", str(out / "train.jsonl"),
                                 "--eval_documents", str(out / "heldout.jsonl"), "--block_size", "32",
                                 "--max_steps", "2", "--output_dir", str(tmp_path / "pt"), "--use_cpu", "true",
                                 "--method", "lora"], progress=False)
    assert metrics["data"]["holdout"]["documents"] == 3 and metrics["eval_perplexity"] > 1
