"""Article numbers as lawyers write them: 第一千零四十三条, 1043, 第一百三十三条之一, 133-1."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.corpus.numerals import article_number_text, cn_to_int, int_to_cn, parse_article_number


@pytest.mark.parametrize("text,value", [
    ("一千零四十三", 1043), ("两百", 200), ("〇", 0), ("零", 0), ("1043", 1043), ("１０４３", 1043),
    ("十", 10), ("十一", 11), ("一十一", 11), ("二十", 20), ("一百一十", 110), ("一百零一", 101),
    ("一千零一十", 1010), ("一千二百六十", 1260), ("一万零五", 10005), ("一〇四三", 1043), ("贰佰", 200),
])
def test_chinese_numerals_read_as_lawyers_write_them(text, value):
    assert cn_to_int(text) == value


@pytest.mark.parametrize("value,text", [
    (1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (100, "一百"), (101, "一百零一"), (110, "一百一十"),
    (1001, "一千零一"), (1010, "一千零一十"), (1043, "一千零四十三"), (1260, "一千二百六十"), (0, "零"),
])
def test_integers_render_in_statute_form(value, text):
    assert int_to_cn(value) == text


@pytest.mark.parametrize("bad", ["", "百", "十十", "一百百", "abc", "一二三两", "第一条"])
def test_malformed_numerals_are_rejected_not_guessed(bad):
    with pytest.raises(ValueError):
        cn_to_int(bad)


@given(st.integers(min_value=0, max_value=10**8))
def test_numerals_round_trip(n):
    assert cn_to_int(int_to_cn(n)) == n


@given(st.integers(min_value=1, max_value=3000), st.integers(min_value=0, max_value=9))
def test_article_numbers_round_trip(n, sub):
    suffix = "" if sub == 0 else "之" + int_to_cn(sub)
    assert parse_article_number(article_number_text(n, suffix)) == (n, suffix)


@pytest.mark.parametrize("text,expected", [
    ("第一百三十三条之一", (133, "之一")), ("133条之一", (133, "之一")), ("133-1", (133, "之一")),
    ("第1043条", (1043, "")), ("1043", (1043, "")), ("第 232 条", (232, "")),
])
def test_article_number_forms(text, expected):
    assert parse_article_number(text) == expected


@pytest.mark.parametrize("bad", ["第零条", "条", "第一百三十三款", "第x条"])
def test_bad_article_numbers_raise(bad):
    with pytest.raises(ValueError):
        parse_article_number(bad)
