"""The article store: imports are transactional, re-imports report a diff and keep history."""
import dataclasses

import pytest

from assistant.corpus import ArticleStore
from assistant.corpus.parse import parse_statute_text

V1 = "示例法\n第一章 总则\n第一条　甲。\n第二条　乙。\n第三条　丙。\n"
V2 = "示例法\n第一章 总则\n第一条　甲。\n第二条　乙（修改后）。\n第二条之一　新增。\n"


def test_the_fixture_corpus_is_stored_article_by_article(fixture_store):
    art = fixture_store.find("中华人民共和国刑法", 133, "之一")
    assert art.number_text == "第一百三十三条之一" and art.chapter == "第二章 危害公共安全罪"
    assert fixture_store.get(art.id) == art
    assert [a.number for a in fixture_store.articles("中华人民共和国民法典")] == [1043, 1076, 1077, 1079, 1165]
    stats = fixture_store.stats()
    assert stats["laws"] == 4 and stats["articles"] == 19 and stats["articles_by_status"]["已废止"] == 2
    assert stats["in_force_articles"] == 17


def test_reimport_reports_a_diff_and_keeps_history(tmp_path):
    store = ArticleStore(tmp_path / "s.sqlite")
    first = store.import_law(parse_statute_text(V1, "v1.txt"))
    assert len(first.added) == 3 and first.unchanged == 0
    fp1 = store.fingerprint()
    second = store.import_law(parse_statute_text(V2, "v2.txt"))
    assert second.added == ["示例法#2之一"] and second.changed == ["示例法#2"]
    assert second.removed == ["示例法#3"] and second.unchanged == 1
    assert store.get("示例法#2").text == "乙（修改后）。" and store.get("示例法#3") is None
    assert [v.text for v in store.history("示例法#2")] == ["乙。"]
    assert store.history("示例法#3")[0].superseded_by == "removed"
    assert store.fingerprint() != fp1
    again = store.import_law(parse_statute_text(V2, "v2.txt"))
    assert again.is_noop and again.unchanged == 3


def test_diff_previews_without_changing_anything(tmp_path):
    store = ArticleStore(tmp_path / "s.sqlite")
    store.import_law(parse_statute_text(V1, "v1.txt"))
    before = store.fingerprint()
    diff = store.diff(parse_statute_text(V2, "v2.txt"))
    assert diff.changed == ["示例法#2"] and store.fingerprint() == before


def test_a_failing_import_changes_nothing(tmp_path):
    store = ArticleStore(tmp_path / "s.sqlite")
    store.import_law(parse_statute_text(V1, "v1.txt"))
    before = (store.fingerprint(), store.stats()["laws"])
    good = parse_statute_text("另一法\n第一条　好的。\n", "ok.txt")
    bad = parse_statute_text(V2, "v2.txt")
    bad.articles.append(dataclasses.replace(bad.articles[0]))  # a duplicate id: the import must fail
    with pytest.raises(ValueError, match="duplicate"):
        store.import_laws([good, bad])
    assert (store.fingerprint(), store.stats()["laws"]) == before
    assert store.get("另一法#1") is None


def test_readonly_store_refuses_writes(tmp_path, fixture_store):
    ro = ArticleStore(fixture_store.path, readonly=True)
    assert ro.count() == fixture_store.count()
    with pytest.raises(PermissionError):
        ro.import_law(parse_statute_text(V1, "v1.txt"))
    with pytest.raises(FileNotFoundError, match="corpus import"):
        ArticleStore(tmp_path / "missing.sqlite", readonly=True)


def test_resolver_follows_imports(tmp_path):
    store = ArticleStore(tmp_path / "s.sqlite")
    store.import_law(parse_statute_text(V1, "v1.txt"))
    assert store.resolver().try_resolve("另一法") is None
    store.import_law(parse_statute_text("另一法\n第一条　好的。\n", "ok.txt"))
    assert store.resolver().resolve("另一法") == "另一法"


def test_the_default_corpus_imports_with_history_and_statuses(default_store):
    stats = default_store.stats()
    assert stats["laws"] >= 360 and stats["articles"] > 24_000
    art = default_store.find("中华人民共和国刑法", 232)
    assert art.chapter.startswith("第四章") and art.status in ("现行有效", "已被修改")
    assert default_store.find("中华人民共和国刑法", 133, "之一").items[1].text.startswith("醉酒驾驶")
    # the 1982 constitution is kept as a historical version of the current one
    assert default_store.history("中华人民共和国宪法#1")
    assert default_store.find("中华人民共和国民法典", 1043).text.startswith("家庭应当树立优良家风")
