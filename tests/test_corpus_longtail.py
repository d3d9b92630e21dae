"""The long tail of a real collection, as a folder of files we wrote in LawRefBook's layout
(tests/fixtures/longtail): one file for each cause that used to fail or vanish."""
import json
from pathlib import Path

import pytest
from conftest import run_cli as run

LONGTAIL = Path(__file__).parent / "fixtures" / "longtail"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    home = tmp_path_factory.mktemp("longtail")
    out = json.loads(run("corpus", "import", str(LONGTAIL), "--json", home=home).stdout)
    laws = {law["law"]: law for law in json.loads(run("corpus", "laws", "--json", home=home).stdout)}
    return home, out, laws


def test_every_statute_file_imports_and_the_skipped_one_says_why(imported):
    _, out, _ = imported
    files = {Path(f["file"]).name: f for f in out["files"]}
    statutes = [f for name, f in files.items() if "案例" not in f["file"]]
    assert len(statutes) == 12 and all(f["outcome"] == "imported" for f in statutes), \
        [(f["file"], f["reason"]) for f in statutes if f["outcome"] != "imported"]
    assert out["summary"]["failed"] == 0
    assert out["summary"]["skipped_by_cause"] == {"not a statute: a court case write-up (案例)": 1}


def test_table_prints_the_cause_of_each_skip(tmp_path):
    text = run("corpus", "import", str(LONGTAIL), home=tmp_path / "h").stdout
    assert "skipped: not a statute: a court case write-up (案例)" in text


def test_amendments_of_different_years_are_different_documents(imported):
    _, _, laws = imported
    for year, n in (("1988", 2), ("1993", 3), ("2018", 2)):
        law = laws[f"中华人民共和国宪法修正案（{year}年）"]
        assert law["articles"] == n and law["kind"] == "修正案" and law["version_date"].startswith(year)
    assert laws["中华人民共和国刑法修正案（十）"]["articles"] == 2


def test_plain_paragraph_documents_are_stored_whole_with_their_kind(imported):
    home, out, laws = imported
    reply = laws["最高人民法院关于示例期间计算问题的批复"]
    assert reply["kind"] == "司法解释" and reply["articles"] == 1
    assert laws["最高人民法院关于示例案件审理工作的通知"]["kind"] == "司法解释"
    assert laws["全国人民代表大会常务委员会关于示例问题的决定"]["kind"] == "决定"
    art = json.loads(run("corpus", "show", "最高人民法院关于示例期间计算问题的批复第一条", "--json", home=home).stdout)
    assert art["number_text"] == "全文" and "期间届满的最后一日" in art["text"] and art["paragraphs"][-1] == "此复。"
    # full-width digits in its dates (２００２年６月２９日) read as dates
    assert art["effective"] == "2002-07-20" and reply["promulgated"] == "2002-07-15"


def test_full_width_digits_in_a_file_name_date(imported):
    _, _, laws = imported
    assert laws["示例收费条例"]["version_date"] == "2002-06-29"


def test_a_newer_version_with_fewer_articles_is_a_revision(imported):
    home, out, laws = imported
    assert laws["示例市养犬管理条例"]["articles"] == 5 and laws["示例市养犬管理条例"]["version_date"] == "2023-05-01"
    newer = next(f for f in out["files"] if "养犬管理条例(2023" in f["file"])
    assert newer["diffs"][0]["newer_version"] and len(newer["diffs"][0]["removed"]) == 5
    gone = json.loads(run("corpus", "show", "示例市养犬管理条例第七条", "--as-of", "2016-01-01", "--json",
                          home=home).stdout)
    assert gone["text"] == "养犬管理的第七项规定。" and gone["status"] == "现行有效"


def test_a_newer_version_is_still_refused_when_undated(tmp_path):
    """A file without its own dates that drops most of a law stays a destructive import."""
    home = tmp_path / "h"
    run("corpus", "import", str(LONGTAIL / "地方性法规" / "示例市养犬管理条例(2015-01-01).md"), home=home)
    bare = tmp_path / "养犬.md"
    bare.write_text("# 示例市养犬管理条例\n\n<!-- INFO END -->\n\n第一条 只剩一条。\n", encoding="utf-8")
    out = run("corpus", "import", str(bare), home=home, check=False)
    assert out.returncode == 1 and "would remove" in out.stderr


def test_titles_with_spaces_in_brackets_and_version_notes_match_their_law(imported):
    home, out, laws = imported
    assert [law for law in laws if "示例消费法" in law] == ["中华人民共和国示例消费法"]
    art = json.loads(run("corpus", "show", "示例消费法第一条", "--history", "--json", home=home).stdout)
    assert "维护市场秩序" in art["text"] and len(art["history"]) == 1
