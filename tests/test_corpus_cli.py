"""The `assistant corpus` commands, run as a user would (a real subprocess on a real store)."""
import json

import pytest
from conftest import run_cli as run


@pytest.fixture(scope="module")
def home(tmp_path_factory, fixture_corpus_dir):
    home = tmp_path_factory.mktemp("cli")
    out = json.loads(run("corpus", "import", str(fixture_corpus_dir / "xingfa_mini.txt"),
                         str(fixture_corpus_dir / "minfadian_mini.jsonl"), "--json", home=home).stdout)
    assert out["added"] == 12 and out["laws"] == 2
    return home


def test_show_an_article_by_citation_in_any_form(home):
    for ref in ["刑法第一百三十三条之一", "《中华人民共和国刑法》第一百三十三条之一", "刑法 133-1", "刑法133条之一"]:
        art = json.loads(run("corpus", "show", ref, "--json", home=home).stdout)
        assert art["id"] == "中华人民共和国刑法#133之一" and art["chapter"] == "第二章 危害公共安全罪"
        assert art["status"] == "现行有效" and len(art["items"]) == 3


def test_laws_and_stats(home):
    laws = json.loads(run("corpus", "laws", "--search", "民法", "--json", home=home).stdout)
    assert [law["law"] for law in laws] == ["中华人民共和国民法典"] and laws[0]["articles"] == 5
    stats = json.loads(run("corpus", "stats", "--json", home=home).stdout)
    assert stats["articles"] == 12


def test_diff_shows_what_an_import_would_change(home, tmp_path):
    changed = tmp_path / "xingfa.txt"
    changed.write_text("中华人民共和国刑法\n第一条　新的第一条。\n", encoding="utf-8")
    (diff,) = json.loads(run("corpus", "diff", str(changed), "--json", home=home).stdout)
    assert diff["changed"] == ["中华人民共和国刑法#1"] and len(diff["removed"]) == 6
    assert json.loads(run("corpus", "stats", "--json", home=home).stdout)["articles"] == 12


def test_a_bad_file_is_reported_and_with_strict_nothing_is_imported(home, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("示例法\n第一条　甲。\n第一条　乙。\n", encoding="utf-8")
    good = tmp_path / "good.txt"
    good.write_text("好法\n第一条　甲。\n", encoding="utf-8")
    proc = run("corpus", "import", str(good), str(bad), "--strict", home=home, check=False)
    assert proc.returncode == 2
    assert f"{bad}:3: duplicate article number 第一条" in proc.stderr and "nothing was imported" in proc.stderr
    assert json.loads(run("corpus", "stats", "--json", home=home).stdout)["laws"] == 2


def test_without_strict_each_file_imports_on_its_own(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("示例法\n第一条　甲。\n第一条　乙。\n", encoding="utf-8")
    good = tmp_path / "good.txt"
    good.write_text("好法\n第一条　甲。\n", encoding="utf-8")
    proc = run("corpus", "import", str(good), str(bad), home=tmp_path / "h", check=False)
    assert proc.returncode == 1 and f"failed: {bad}:3: duplicate article number 第一条" in proc.stderr
    assert f"{good}: imported" in proc.stdout
    assert json.loads(run("corpus", "stats", "--json", home=tmp_path / "h").stdout)["laws"] == 1


def test_unknown_references_explain_themselves(home):
    proc = run("corpus", "show", "合同法第52条", home=home, check=False)
    assert proc.returncode == 2 and "民法典" in proc.stderr
    proc = run("corpus", "show", "刑法第9999条", home=home, check=False)
    assert proc.returncode == 2 and "no article 9999" in proc.stderr


def test_commands_on_a_missing_store_say_how_to_create_it(tmp_path):
    proc = run("corpus", "stats", home=tmp_path / "empty", check=False)
    assert proc.returncode == 2 and "assistant corpus import --default" in proc.stderr
    assert "Traceback" not in proc.stderr
