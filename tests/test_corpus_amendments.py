"""Consolidating amendments into their base law, and point-in-time lookup, on statute-like texts we wrote:
a base law stored at its 2020 version (status 已被修改) and amendments laid out as the default corpus
stores them (one numbered change per row: 条目一, 条目二 …)."""
import json

import pytest
from conftest import run_cli

from assistant.corpus import ArticleStore, LawDocument, LawInfo
from assistant.corpus.article import Article

BASE = "中华人民共和国示例刑法"
OLD_AMENDMENT = "中华人民共和国示例刑法修正案"
NEW_AMENDMENT = "中华人民共和国示例刑法修正案（二）"

BASE_TEXTS = {
    1: "为了惩罚示例犯罪，制定本法。",
    2: "盗窃示例财物的，处三年以下有期徒刑。\n数额巨大的，处三年以上十年以下有期徒刑。",
    3: "有下列情形之一的，从重处罚：\n（一）多次实施的；\n（二）造成严重后果的。",
    4: "行贿的，处五年以下有期徒刑或者拘役。",
    5: "本条规定的罪名已不再适用。",
    6: "犯本章之罪的，可以并处罚金。",
}


def base_doc(status="已被修改"):
    info = LawInfo(law=BASE, short_name="示例刑法", status=status, doc_type="法律", promulgated="2020-12-26",
                   effective="1997-10-01", version_date="2020-12-26", source="test")
    arts = [Article(law=BASE, number=n, text=t, status=status, promulgated="2020-12-26", effective="1997-10-01",
                    version_date="2020-12-26", source="test", position=n, chapter="第一章 示例罪")
            for n, t in BASE_TEXTS.items()]
    return LawDocument(info, arts)


def amendment_doc(law, date, effective, items):
    info = LawInfo(law=law, short_name=law, status="现行有效", doc_type="修正案", promulgated=date,
                   effective=effective, version_date=date, source="test")
    labels = "一二三四五六七八九十"
    arts = [Article(law=law, number=i + 1, text=t, number_text=f"条目{labels[i]}", status="现行有效",
                    version_date=date, source="test", position=i) for i, t in enumerate(items)]
    return LawDocument(info, arts)


OLD = amendment_doc(OLD_AMENDMENT, "2019-06-01", "2019-06-01", [
    # already in the 2020 base text
    '将示例刑法第四条修改为："行贿的，处五年以下有期徒刑或者拘役。"',
    "本修正案自公布之日起施行。",
])

NEW = amendment_doc(NEW_AMENDMENT, "2023-12-29", "2024-03-01", [
    '将示例刑法第四条修改为："行贿的，处三年以下有期徒刑或者拘役，并处罚金。\n"有下列情形之一的，从重处罚:\n'
    '"（一）多次行贿的；\n"（二）国家工作人员行贿的。"',
    '将示例刑法第二条第二款修改为："数额巨大的，处三年以上七年以下有期徒刑，并处罚金。"',
    '在示例刑法第二条后增加一条，作为第二条之一："组织他人盗窃示例财物的，依照前条的规定从重处罚。"',
    "删去示例刑法第五条。",
    '将示例刑法第三条第一款第二项修改为："（二）造成特别严重后果的；"',
    '在示例刑法第六条中增加一款作为第二款："单位犯本章之罪的，对单位判处罚金。"',
    "本修正案自2024年3月1日起施行。",
])


@pytest.fixture()
def store(tmp_path):
    s = ArticleStore(tmp_path / "home" / "corpus.sqlite")
    s.import_laws([base_doc(), OLD, NEW])
    return s


def test_a_newer_amendment_is_applied_to_its_base_law(store):
    from assistant.corpus.amendments import APPLIED, COMMENCEMENT, IN_TEXT, consolidate

    (result,) = consolidate(store)
    assert result.base == BASE and result.applied == [NEW_AMENDMENT]
    outcomes = {c.item: c.outcome for c in result.changes if c.amendment == NEW_AMENDMENT}
    assert set(outcomes.values()) == {APPLIED, COMMENCEMENT}
    assert [c.outcome for c in result.changes if c.amendment == OLD_AMENDMENT] == [IN_TEXT, COMMENCEMENT]

    four = store.find(BASE, 4)
    assert four.text == "行贿的，处三年以下有期徒刑或者拘役，并处罚金。\n有下列情形之一的，从重处罚：\n（一）多次行贿的；\n（二）国家工作人员行贿的。"
    assert (four.status, four.version_date, four.effective) == ("现行有效", "2023-12-29", "2024-03-01")
    assert store.find(BASE, 2).paragraphs == ["盗窃示例财物的，处三年以下有期徒刑。", "数额巨大的，处三年以上七年以下有期徒刑，并处罚金。"]
    added = store.find(BASE, 2, "之一")
    assert added.text == "组织他人盗窃示例财物的，依照前条的规定从重处罚。" and added.number_text == "第二条之一"
    assert [n for n, _ in store.numbers(BASE)][:3] == [1, 2, 2]  # 之一 sits right after its base article
    assert store.find(BASE, 5).text == "（删去）"
    assert store.find(BASE, 3).items[1].text == "造成特别严重后果的；"
    assert store.find(BASE, 6).paragraphs == ["犯本章之罪的，可以并处罚金。", "单位犯本章之罪的，对单位判处罚金。"]


def test_the_consolidated_law_is_in_force_with_a_note_and_untouched_articles_keep_their_text(store):
    from assistant.corpus.amendments import consolidate

    consolidate(store)
    info = store.law(BASE)
    assert info.status == "现行有效" and store.law_note(BASE) == f"经《{NEW_AMENDMENT}》修正"
    one = store.find(BASE, 1)
    assert one.status == "现行有效" and one.text == BASE_TEXTS[1] and one.version_date == "2020-12-26"
    assert store.history(one.id) == []  # an untouched article gains no duplicate history


def test_replaced_texts_stay_as_history_with_their_dates(store):
    from assistant.corpus.amendments import consolidate

    consolidate(store)
    (old,) = store.history(f"{BASE}#4")
    assert old.text == BASE_TEXTS[4] and old.version_date == "2020-12-26" and old.replaced_from == "2024-03-01"


def test_consolidating_twice_changes_nothing(store):
    from assistant.corpus.amendments import consolidate

    consolidate(store)
    before = store.fingerprint()
    (again,) = consolidate(store)
    assert again.pending == [] and again.document is None and store.fingerprint() == before


def test_an_amendment_that_cannot_be_applied_whole_is_not_applied_at_all(tmp_path):
    from assistant.corpus.amendments import NOT_APPLIED, consolidate

    store = ArticleStore(tmp_path / "c.sqlite")
    bad = amendment_doc(NEW_AMENDMENT, "2023-12-29", "2024-03-01", [
        '将示例刑法第四条修改为："行贿的，处三年以下有期徒刑。"',
        '将示例刑法第九十九条修改为："不存在的条文。"',
        '将示例刑法第一条改为第二条，修改为："调整条文顺序。"',
    ])
    store.import_laws([base_doc(), bad])
    (result,) = consolidate(store)
    assert result.applied == [] and result.document is None
    reasons = {c.item: (c.outcome, c.reason) for c in result.changes}
    assert reasons["条目二"] == (NOT_APPLIED, "第九十九条: the base law has no such article")
    assert reasons["条目三"][0] == NOT_APPLIED and "renumbers" in reasons["条目三"][1]
    assert reasons["条目一"][0] == NOT_APPLIED and "applied whole or not at all" in reasons["条目一"][1]
    assert store.find(BASE, 4).text == BASE_TEXTS[4] and store.law(BASE).status == "已被修改"


def test_reimporting_the_source_keeps_the_consolidated_text(store):
    from assistant.corpus.amendments import consolidate
    from assistant.corpus.importer import drop_older_versions

    consolidate(store)
    docs, reasons = drop_older_versions(store, [base_doc(), OLD], same_version_other_source=False)
    assert [d.law for d in docs] == [OLD_AMENDMENT] and "holds a newer version of 中华人民共和国示例刑法" in reasons[0]


def run(home, *args):
    return run_cli("corpus", *args, home=home, check=False)


def test_show_gives_the_text_in_force_on_a_day(store, tmp_path):
    from assistant.corpus.amendments import consolidate

    consolidate(store)
    home = tmp_path / "home"
    before = json.loads(run(home, "show", "示例刑法第4条", "--as-of", "2022-01-01", "--json").stdout)
    assert before["as_of"]["text"] == BASE_TEXTS[4] and before["as_of"]["until"] == "2024-03-01"
    assert before["as_of"]["current"] is False
    # promulgated 2023-12-29 but in force only from 2024-03-01
    assert json.loads(run(home, "show", "示例刑法第4条", "--as-of", "2024-01-15", "--json").stdout)[
        "as_of"]["text"] == BASE_TEXTS[4]
    after = json.loads(run(home, "show", "示例刑法第四条", "--as-of", "2024-03-01", "--json").stdout)
    assert after["as_of"]["current"] is True and after["as_of"]["text"].startswith("行贿的，处三年以下")
    too_early = run(home, "show", "示例刑法第4条", "--as-of", "2000-01-01")
    assert too_early.returncode == 2 and "no text in force on 2000-01-01" in too_early.stderr
    bad = run(home, "show", "示例刑法第4条", "--as-of", "去年")
    assert bad.returncode == 2 and "not a date" in bad.stderr
    text = run(home, "show", "示例刑法第4条", "--history").stdout
    assert f"经《{NEW_AMENDMENT}》修正" in text and "公布 2023-12-29 · 施行 2024-03-01" in text
    assert "superseded version (已被修改, in force 2020-12-26 – 2024-03-01)" in text


def test_consolidate_command_reports_what_it_applied(tmp_path):
    home = tmp_path / "home"
    s = ArticleStore(home / "corpus.sqlite")
    s.import_laws([base_doc(), OLD, NEW])
    s.close()
    dry = json.loads(run(home, "consolidate", "--dry-run", "--json").stdout)
    assert dry[0]["applied"] == [NEW_AMENDMENT]
    assert json.loads(run(home, "show", "示例刑法第4条", "--json").stdout)["text"] == BASE_TEXTS[4]
    proc = run(home, "consolidate")
    assert proc.returncode == 0 and f"consolidated {BASE}" in proc.stdout
    assert "applied: 中华人民共和国示例刑法修正案（二） 条目一 第四条 (replace_article)" in proc.stdout


def test_each_version_shows_its_own_dates():
    from assistant.corpus.versions import format_dates, text_start

    # a revised version whose stored effective date is the original law's commencement
    assert format_dates("2012-12-28", "2008-01-01", "2012-12-28") == "本版本 2012-12-28 · 原法施行 2008-01-01"
    assert format_dates("2023-12-29", "2024-03-01", "2023-12-29") == "公布 2023-12-29 · 施行 2024-03-01"
    assert text_start("2008-01-01", "2012-12-28") == "2012-12-28"
    assert text_start("2024-03-01", "2023-12-29") == "2024-03-01"


def test_the_default_corpus_serves_criminal_law_as_amended_in_2023(default_store):
    art = default_store.find("中华人民共和国刑法", 390)
    assert art.text.startswith("对犯行贿罪的，处三年以下有期徒刑或者拘役，并处罚金") and art.status == "现行有效"
    assert (art.promulgated, art.effective) == ("2023-12-29", "2024-03-01")
    (old,) = default_store.history(art.id)
    assert old.text.startswith("对犯行贿罪的，处五年以下有期徒刑或者拘役") and old.replaced_from == "2024-03-01"
    assert default_store.law("中华人民共和国刑法").status == "现行有效"
    assert default_store.law_note("中华人民共和国刑法") == "经《中华人民共和国刑法修正案（十二）》修正"
    # articles 12 did not touch keep their 2020 text, now in force, and gain no history
    assert default_store.find("中华人民共和国刑法", 232).status == "现行有效"
    assert default_store.history("中华人民共和国刑法#232") == []


def test_items_with_several_instructions_and_older_wordings():
    from assistant.corpus.amendments import apply_change, parse_item, wording_in

    texts = {(2, ""): "甲款。\n乙款。", (3, ""): BASE_TEXTS[3], (6, ""): "一款。\n二款。\n三款。"}
    item = ('在示例刑法第二条中增加一款作为第二款:"新增的款。"\n原第二款作为第三款，修改为:"修改后的乙款。"\n'
            '增加两款作为第四款、第五款:"第四款内容。\n"第五款内容。"')
    changes = parse_item(NEW_AMENDMENT, "条目一", item)
    assert [(c.op, c.paragraphs) for c in changes] == [("insert_paragraph", [2]), ("replace_paragraph", [3]),
                                                       ("insert_paragraph", [4, 5])]
    assert [c.item for c in changes] == ["条目一", "条目一(2)", "条目一(3)"]
    for c in changes:
        assert apply_change(texts, c) is None and wording_in(texts, c)
    assert texts[(2, "")] == "甲款。\n新增的款。\n修改后的乙款。\n第四款内容。\n第五款内容。"

    (add_item,) = parse_item(NEW_AMENDMENT, "条目二", '示例刑法第三条增加一项，作为第二项："（二）未遂的；"')
    assert apply_change(texts, add_item) is None
    assert texts[(3, "")].split("\n")[1:] == ["（一）多次实施的；", "（二）未遂的；", "（三）造成严重后果的。"]

    (two,) = parse_item(NEW_AMENDMENT, "全文", '为了惩治示例犯罪，将示例刑法第六条第一款、第二款修改为："新一款。\n"新二款。"')
    assert two.op == "replace_paragraph" and two.paragraphs == [1, 2]
    assert apply_change(texts, two) is None and texts[(6, "")] == "新一款。\n新二款。\n三款。"

    (wrong,) = parse_item(NEW_AMENDMENT, "条目三", '将示例刑法第六条第一款、第二款修改为："只有一款。"')
    assert apply_change(dict(texts), wrong) == "第六条第一款、第二款: 2 paragraph(s) to replace but 1 given"
