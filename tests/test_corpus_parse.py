"""Importing a statute file as published: txt, Markdown, .docx and JSONL, with clear errors."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.corpus.parse import StatuteParseError, parse_file, parse_statute_text


def test_a_published_criminal_law_text_is_split_into_articles(fixture_corpus_dir):
    parsed = parse_file(fixture_corpus_dir / "xingfa_mini.txt")
    (doc,) = parsed.documents
    assert doc.law == "中华人民共和国刑法"
    assert [a.number_text for a in doc.articles] == [
        "第一条", "第二条", "第三条", "第一百三十三条", "第一百三十三条之一", "第二百三十二条", "第二百三十四条"]
    drunk = doc.articles[4]
    assert (drunk.number, drunk.suffix, drunk.id) == (133, "之一", "中华人民共和国刑法#133之一")
    assert drunk.part == "第二编 分则" and drunk.chapter == "第二章 危害公共安全罪"
    assert len(drunk.paragraphs) == 2 and [i.number for i in drunk.items] == [1, 2, 3]
    assert drunk.items[1].text == "醉酒驾驶机动车的；"
    # the 目录 and the bracketed note are not article text
    assert all("目录" not in a.text and "示例文本" not in a.text for a in doc.articles)
    # gaps are warnings, not errors
    assert any("numbering gap" in w and "xingfa_mini.txt:27" in w for w in parsed.warnings)


def test_markdown_headings_and_bold_article_numbers(fixture_corpus_dir):
    (doc,) = parse_file(fixture_corpus_dir / "laodong_hetong_mini.md").documents
    assert doc.law == "中华人民共和国劳动合同法"
    art = {a.number: a for a in doc.articles}[39]
    assert art.chapter == "第四章 劳动合同的解除和终止" and len(art.items) == 3
    assert art.text.startswith("劳动者有下列情形之一的")


def test_jsonl_one_article_per_line(fixture_corpus_dir):
    (doc,) = parse_file(fixture_corpus_dir / "minfadian_mini.jsonl").documents
    assert [a.number for a in doc.articles] == [1043, 1076, 1077, 1079, 1165]
    assert doc.articles[0].part == "第五编 婚姻家庭"


def test_docx_is_read_like_text(tmp_path):
    import docx

    d = docx.Document()
    for line in ["示例安全法", "第一章 总则", "第一条　为了保障示例安全，制定本法。", "第二条　本法适用于示例活动。",
                 "示例活动包括：", "（一）甲；", "（二）乙。"]:
        d.add_paragraph(line)
    path = tmp_path / "law.docx"
    d.save(str(path))
    (doc,) = parse_file(path).documents
    assert doc.law == "示例安全法" and len(doc.articles) == 2
    assert doc.articles[1].paragraphs == ["本法适用于示例活动。", "示例活动包括：\n（一）甲；\n（二）乙。"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_are_detected(tmp_path, encoding):
    path = tmp_path / "law.txt"
    path.write_bytes("示例法\n第一条　为了测试编码，制定本法。\n".encode(encoding))
    assert parse_file(path).documents[0].articles[0].text == "为了测试编码，制定本法。"


def test_amendment_notes_and_preamble_are_skipped():
    text = ("中华人民共和国示例法（2020修正）\n（2001年3月1日第九届全国人民代表大会通过　根据2020年5月1日决定修正）\n"
            "序言\n这是序言。\n第一条　第一条的内容。\n第二条　引用第一条的规定。\n第一条规定的情形除外。\n")
    doc = parse_statute_text(text, "x.txt")
    assert doc.law == "中华人民共和国示例法"
    assert doc.info.promulgated == "2001-03-01" and doc.info.version_date == "2020-05-01"
    # a paragraph that starts with "第一条规定…" continues 第二条, it is not a new article
    assert [a.number for a in doc.articles] == [1, 2]
    assert doc.articles[1].paragraphs == ["引用第一条的规定。", "第一条规定的情形除外。"]


@pytest.mark.parametrize("content,problem,line", [
    (b"", "empty file", None),
    ("示例法\n只有标题，没有条文。\n".encode(), "no articles found", 1),
    ("示例法\n第一条　甲。\n第二条　乙。\n第一条　丙。\n".encode(), "duplicate article number 第一条", 4),
    ("第一条　没有标题。\n".encode(), "no title line", 1),
    ("示例法\n第一条\n第二条　乙。\n".encode(), "第一条 has no text", 2),
    (b"\xff\xfe\x00\x00\x81\x00garbage", "undecodable bytes", 1),
])
def test_bad_files_name_the_file_line_and_problem(tmp_path, content, problem, line):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(StatuteParseError) as err:
        parse_file(path)
    assert problem in str(err.value) and str(path) in str(err.value)
    assert err.value.line == line


@pytest.mark.parametrize("row,problem", [
    ("not json", "invalid JSON"),
    (json.dumps({"law": "示例法", "text": "甲"}), "missing field 'number'"),
    (json.dumps({"law": "示例法", "number": "第x条", "text": "甲"}), "field 'number'"),
    (json.dumps({"law": "示例法", "number": 1, "suffix": "bis", "text": "甲"}), "bad suffix"),
])
def test_bad_jsonl_lines_are_named(tmp_path, row, problem):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"law": "示例法", "number": 1, "text": "甲"}) + "\n" + row + "\n", encoding="utf-8")
    with pytest.raises(StatuteParseError) as err:
        parse_file(path)
    assert problem in str(err.value) and "bad.jsonl:2" in str(err.value)


def test_unsupported_types_are_refused(tmp_path):
    path = tmp_path / "law.pdf"
    path.write_bytes(b"%PDF")
    with pytest.raises(StatuteParseError, match="unsupported file type"):
        parse_file(path)


_statute_lines = st.lists(st.one_of(
    st.sampled_from(["第一章 总则", "第二节 一般规定", "目录", "第一条　甲。", "第二条之一　乙。", "（一）丙；",
                     "第十条", "第三编", "（2001年通过）", "# 示例法", "**第五条** 丁。", "第一千零四十三条规定的"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
), max_size=25)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_statute_lines, st.booleans())
def test_mangled_input_never_crashes_the_parser(lines, markdown):
    try:
        doc = parse_statute_text("\n".join(lines), "fuzz.txt", markdown=markdown)
    except StatuteParseError as exc:
        assert str(exc).startswith("fuzz.txt")
    else:
        assert doc.articles and all(a.text for a in doc.articles)
        assert len({a.id for a in doc.articles}) == len(doc.articles)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "x.txt"
    path.write_bytes(data)
    try:
        parse_file(path)
    except StatuteParseError:
        pass
