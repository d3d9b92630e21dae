"""Importing a whole statute collection (LawRefBook layout) as a user would: per-file outcomes, the 一、
article format, info-block dates, annexes, document kinds. Fixtures: tests/fixtures/collection (our own
statute-like texts)."""
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli as run

COLLECTION = Path(__file__).parent / "fixtures" / "collection"
LAW = "中华人民共和国示例物业服务法"
ANSWERS = "最高人民法院关于审理示例物业纠纷案件若干问题的解答"
INTERPRETATION = "最高人民法院关于适用《中华人民共和国示例物业服务法》的解释"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    home = tmp_path_factory.mktemp("collection")
    proc = run("corpus", "import", str(COLLECTION), "--json", home=home, check=False)
    return home, proc


def test_one_bad_file_does_not_stop_the_rest_of_the_folder(imported):
    home, proc = imported
    out = json.loads(proc.stdout)
    by_name = {Path(f["file"]).name: f for f in out["files"]}
    assert proc.returncode == 1  # something failed
    bad = by_name["示例物业管理条例(2018-03-19).md"]
    assert bad["outcome"] == "failed" and ":11: duplicate article number 第二条" in bad["reason"]
    for name in ("示例物业服务法(2020-06-30).md", "最高人民法院关于审理示例物业纠纷案件若干问题的解答(2002-08-31).md"):
        assert by_name[name]["outcome"] == "imported"
    laws = {law["law"] for law in json.loads(run("corpus", "laws", "--json", home=home).stdout)}
    assert laws == {LAW, ANSWERS, INTERPRETATION}
    assert out["summary"]["failed"] == 1 and out["summary"]["imported"] == 3


def test_case_write_ups_and_contents_pages_are_skipped_with_a_reason(imported):
    out = json.loads(imported[1].stdout)
    by_name = {Path(f["file"]).name: f for f in out["files"]}
    case = by_name["某某诉某物业公司物业服务合同纠纷案.md"]
    assert case["outcome"] == "skipped" and "case write-up" in case["reason"] and case["not_statute"]
    toc = by_name["示例市物业管理条例目录.md"]
    assert toc["outcome"] == "skipped" and "table-of-contents" in toc["reason"]
    assert out["summary"]["skipped"] == 2 and out["summary"]["statute_files"] == 4


def test_strict_imports_nothing_when_one_file_fails(tmp_path):
    proc = run("corpus", "import", str(COLLECTION), "--strict", home=tmp_path, check=False)
    assert proc.returncode == 2 and "nothing was imported (--strict)" in proc.stderr
    assert "duplicate article number 第二条" in proc.stderr
    assert json.loads(run("corpus", "stats", "--json", home=tmp_path).stdout)["laws"] == 0


def test_a_clean_folder_exits_zero_and_prints_a_summary_table(tmp_path):
    folder = tmp_path / "laws"
    shutil.copytree(COLLECTION, folder)
    (folder / "行政法规" / "示例物业管理条例(2018-03-19).md").unlink()
    proc = run("corpus", "import", str(folder), home=tmp_path / "home")
    assert "imported" in proc.stdout and "skipped" in proc.stdout and "kind 司法解释" in proc.stdout
    again = run("corpus", "import", str(folder), "--json", home=tmp_path / "home")
    assert {f["outcome"] for f in json.loads(again.stdout)["files"]} == {"unchanged", "skipped"}


def test_dun_numbered_interpretation_is_stored_as_articles_in_order(imported):
    home, _ = imported
    first = json.loads(run("corpus", "show", f"{ANSWERS}第一条", "--json", home=home).stdout)
    assert first["number_text"] == "一、" and first["text"].startswith("问：业主以未享受服务为由拒付物业费")
    assert first["paragraphs"][1].startswith("答：物业服务人已按约定提供服务")
    third = json.loads(run("corpus", "show", f"{ANSWERS}第3条", "--json", home=home).stdout)
    assert third["number_text"] == "三、" and third["text"] == "本解答自公布之日起施行。"
    # the preamble (现解答如下) is no article
    assert json.loads(run("corpus", "laws", "--search", "解答", "--json", home=home).stdout)[0]["articles"] == 3


def test_info_block_gives_each_version_its_dates(imported):
    home, _ = imported
    law = json.loads(run("corpus", "laws", "--search", "示例物业服务法", "--json", home=home).stdout)
    law = next(x for x in law if x["law"] == LAW)
    # adopted 2001, revised 2020: the commencement of 2001 is not this version's
    assert law["promulgated"] == "2001-03-01" and law["version_date"] == "2020-06-30"
    answers = next(x for x in json.loads(run("corpus", "laws", "--json", home=home).stdout) if x["law"] == ANSWERS)
    assert (answers["promulgated"], answers["effective"]) == ("2002-08-31", "2002-09-01")
    interp = next(x for x in json.loads(run("corpus", "laws", "--json", home=home).stdout)
                  if x["law"] == INTERPRETATION)
    assert interp["effective"] == "2021-01-01"


def test_annex_and_headings(imported):
    home, proc = imported
    last = json.loads(run("corpus", "show", f"{LAW}第五条", "--json", home=home).stdout)
    assert last["text"] == "本法自2001年7月1日起施行。" and last["chapter"] == "第三章 附则"
    warnings = json.loads(proc.stdout)["warnings"]
    assert any("annex (附件)" in w and "示例物业服务法" in w for w in warnings)
    art = json.loads(run("corpus", "show", f"{INTERPRETATION}第二条", "--json", home=home).stdout)
    assert art["chapter"] == "二、附 则"


def test_every_law_has_its_kind(imported):
    home, _ = imported
    kinds = {x["law"]: x["kind"] for x in json.loads(run("corpus", "laws", "--json", home=home).stdout)}
    assert kinds == {LAW: "法律", ANSWERS: "司法解释", INTERPRETATION: "司法解释"}
    art = json.loads(run("corpus", "show", f"{INTERPRETATION}第一条", "--json", home=home).stdout)
    assert art["kind"] == "司法解释"
    only = json.loads(run("corpus", "laws", "--kind", "司法解释", "--json", home=home).stdout)
    assert {x["law"] for x in only} == {ANSWERS, INTERPRETATION}


def test_kind_from_title_source_field_and_folder():
    from assistant.corpus.kinds import classify_kind

    assert classify_kind("中华人民共和国刑法修正案（十二）", doc_type="修正案") == "修正案"
    assert classify_kind("中华人民共和国宪法修正案（2018年）", doc_type="宪法") == "修正案"
    assert classify_kind("中华人民共和国宪法", doc_type="宪法") == "宪法"
    assert classify_kind("全国人民代表大会常务委员会关于修改《中华人民共和国示例法》的决定", doc_type="修改决定") == "决定"
    assert classify_kind("全国人民代表大会常务委员会关于《中华人民共和国刑法》第三十条的解释",
                         doc_type="立法解释") == "立法解释"
    assert classify_kind("示例物业管理条例", folder=("laws", "行政法规")) == "行政法规"
    assert classify_kind("示例物业管理条例", issuing_body="国务院") == "行政法规"
    assert classify_kind("示例省物业管理条例") == "地方性法规"
    assert classify_kind("示例监察官条例", issuing_body="国家监察委员会") == "监察法规"
    assert classify_kind("示例规章", folder=("部门规章", "公安部")) == "部门规章"
    assert classify_kind("某个说不清的文件") is None


def test_an_old_store_gains_kinds_when_opened(tmp_path):
    import sqlite3

    from assistant.corpus import ArticleStore

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE laws (law TEXT PRIMARY KEY, short_name TEXT NOT NULL, doc_type TEXT, department TEXT,
            issuing_body TEXT, promulgated TEXT, effective TEXT, version_date TEXT, status TEXT NOT NULL,
            source TEXT NOT NULL, imported_at TEXT NOT NULL);
        INSERT INTO laws VALUES ('中华人民共和国示例法', '示例法', '法律', NULL, NULL, NULL, NULL, NULL, '现行有效',
            'x', '2020');
        INSERT INTO laws VALUES ('最高人民法院关于适用《中华人民共和国示例法》的解释', 'x', NULL, NULL, NULL, NULL,
            NULL, NULL, '现行有效', 'x', '2020');
    """)
    conn.commit()
    conn.close()
    # read-only, it cannot migrate: kinds are classified on the fly, and the file is untouched
    assert ArticleStore(path, readonly=True).law_kinds() == {"中华人民共和国示例法": "法律",
                                                             "最高人民法院关于适用《中华人民共和国示例法》的解释": "司法解释"}
    assert ArticleStore(path, readonly=True).get_meta("schema_version") == "1"
    store = ArticleStore(path)
    assert store.law_kinds() == {"中华人民共和国示例法": "法律",
                                 "最高人民法院关于适用《中华人民共和国示例法》的解释": "司法解释"}
    assert store.get_meta("schema_version") == "2"


def test_an_older_version_never_replaces_a_newer_stored_text(tmp_path):
    newer = tmp_path / "new" / "示例物业服务法(2024-01-01).md"
    newer.parent.mkdir()
    newer.write_text("# 中华人民共和国示例物业服务法\n\n2024年1月1日 第十四届全国人民代表大会常务委员会第七次会议修订\n\n"
                     "<!-- INFO END -->\n\n第一条 修订后的第一条。\n", encoding="utf-8")
    home = tmp_path / "home"
    run("corpus", "import", str(newer), home=home)
    out = json.loads(run("corpus", "import", str(COLLECTION / "法律"), "--json", home=home).stdout)
    (older,) = out["files"]
    # the older version is the law as it was: history behind the stored newer text, never imported over it
    assert older["outcome"] == "imported" and older["parsed"]
    (diff,) = older["diffs"]
    assert diff["as_history"] > 0 and diff["version_date"] == "2020-06-30" and not diff["added"]
    shown = json.loads(run("corpus", "show", f"{LAW}第一条", "--json", home=home).stdout)
    assert shown["text"] == "修订后的第一条。"
    then = json.loads(run("corpus", "show", f"{LAW}第一条", "--as-of", "2021-01-01", "--json", home=home).stdout)
    assert then["as_of"]["text"] != "修订后的第一条。" and not then["as_of"]["current"]
    again = json.loads(run("corpus", "import", str(COLLECTION / "法律"), "--json", home=home).stdout)
    assert again["files"][0]["outcome"] == "unchanged"


def test_a_file_with_two_versions_imports_both_the_newest_current(tmp_path):
    f = tmp_path / "示例收费条例.md"
    f.write_text("# 示例收费条例\n\n2001年5月1日 国务院公布\n\n<!-- INFO END -->\n\n"
                 "第一条 收费标准由省级人民政府确定。\n\n第二条 本条例自公布之日起施行。\n\n"
                 "## 2019年修订文本\n\n第一条 收费标准由省级人民政府价格主管部门确定并公布。\n\n"
                 "第二条 本条例自2019年3月1日起施行。\n", encoding="utf-8")
    home = tmp_path / "home"
    out = json.loads(run("corpus", "import", str(f), "--json", home=home).stdout)
    assert any("holds 2 versions" in w for w in out["warnings"])
    art = json.loads(run("corpus", "show", "示例收费条例第一条", "--history", "--json", home=home).stdout)
    assert art["text"] == "收费标准由省级人民政府价格主管部门确定并公布。" and art["version_date"] == "2019"
    assert [h["text"] for h in art["history"]] == ["收费标准由省级人民政府确定。"]
    assert art["history"][0]["version_date"] == "2001-05-01"


def test_numbering_that_restarts_without_a_version_line_is_an_attachment(tmp_path):
    f = tmp_path / "示例管理办法.md"
    f.write_text("# 示例管理办法\n\n<!-- INFO END -->\n\n第一条 为了管理示例事项，制定本办法。\n\n"
                 "第二条 本办法自公布之日起施行。\n\n示例事项登记规则\n\n第一条 登记应当提交申请书。\n",
                 encoding="utf-8")
    home = tmp_path / "home"
    out = json.loads(run("corpus", "import", str(f), "--json", home=home).stdout)
    assert out["added"] == 2 and any("attached document" in w for w in out["warnings"])


def test_an_interpretation_of_a_repealed_law_is_not_served_as_in_force(tmp_path):
    f = tmp_path / "司法解释" / "最高人民法院关于适用《合同法》若干问题的解释（示例）(1999-12-29).md"
    f.parent.mkdir()
    f.write_text("# 最高人民法院关于适用《中华人民共和国合同法》若干问题的解释（示例）\n\n"
                 "1999年12月29日 最高人民法院公告公布\n\n<!-- INFO END -->\n\n第一条 示例合同纠纷适用合同法。\n",
                 encoding="utf-8")
    revised = tmp_path / "司法解释" / "最高人民法院关于审理示例保险纠纷案件的解释(2020-12-29).md"
    revised.write_text("# 最高人民法院关于审理示例保险纠纷案件的解释\n\n2013年5月6日 最高人民法院审判委员会第1577次会议通过\n\n"
                       "2020年12月23日 最高人民法院审判委员会第1823次会议通过\n\n<!-- INFO END -->\n\n第一条 示例。\n",
                       encoding="utf-8")
    home = tmp_path / "home"
    out = json.loads(run("corpus", "import", str(tmp_path / "司法解释"), "--json", home=home).stdout)
    assert any("which was repealed and replaced by 民法典" in w for w in out["warnings"])
    laws = {x["law"]: x for x in json.loads(run("corpus", "laws", "--json", home=home).stdout)}
    assert laws["最高人民法院关于适用《中华人民共和国合同法》若干问题的解释（示例）"]["status"] == "已废止"
    # adopted 2013, adopted again (revised) 2020: this version is the 2020 one
    assert laws["最高人民法院关于审理示例保险纠纷案件的解释"]["version_date"] == "2020-12-23"


def test_a_table_of_contents_inside_a_law_is_skipped(tmp_path):
    f = tmp_path / "示例条例.md"
    f.write_text("# 示例条例\n\n<!-- INFO END -->\n\n## 目录\n\n第一章 总则\n\n第二章 附则\n\n## 第一章 总则\n\n"
                 "第一条 为了示例，制定本条例。\n\n## 第二章 附则\n\n第二条 本条例自公布之日起施行。\n", encoding="utf-8")
    home = tmp_path / "home"
    run("corpus", "import", str(f), home=home)
    first = json.loads(run("corpus", "show", "示例条例第一条", "--json", home=home).stdout)
    assert first["chapter"] == "第一章 总则" and first["text"] == "为了示例，制定本条例。"
    assert json.loads(run("corpus", "show", "示例条例第二条", "--json", home=home).stdout)["chapter"] == "第二章 附则"


def test_diff_of_a_collection_says_what_it_skips_instead_of_crashing(tmp_path):
    proc = run("corpus", "diff", str(COLLECTION), "--json", home=tmp_path / "home", check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr  # one fixture file is broken on purpose
    assert "目录.md: a table-of-contents page" in proc.stderr  # skipped files are named, with the reason
    assert "failed: " in proc.stderr and ".md:11: duplicate article number" in proc.stderr
    diffs = json.loads(proc.stdout)
    assert diffs and all(d["added"] for d in diffs)  # every statute file of the collection, against an empty store
