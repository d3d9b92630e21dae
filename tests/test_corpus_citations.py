"""Citations as they appear in answers and questions, resolved against the corpus."""
import pytest

from assistant.corpus.citations import CitationError, find_citations, parse_reference
from assistant.corpus.laws import LawResolver

CRIMINAL, CIVIL = "中华人民共和国刑法", "中华人民共和国民法典"


@pytest.fixture
def resolver():
    return LawResolver([CRIMINAL, CIVIL, "中华人民共和国劳动合同法"])


def cites(text, resolver, **kw):
    return [(c.law, c.number, c.suffix) for c in find_citations(text, resolver, **kw)]


def test_book_title_marks_full_and_short_names(resolver):
    text = "依照《中华人民共和国民法典》第一千零四十三条和《民法典》第1076条处理。"
    assert cites(text, resolver) == [(CIVIL, 1043, ""), (CIVIL, 1076, "")]


def test_bare_law_names_and_zhi_yi(resolver):
    assert cites("民法典第1043条；刑法第一百三十三条之一；刑法133条之一；刑法 133-1", resolver) == [
        (CIVIL, 1043, ""), (CRIMINAL, 133, "之一"), (CRIMINAL, 133, "之一"), (CRIMINAL, 133, "之一")]


def test_paragraph_and_item_are_parsed(resolver):
    (c,) = find_citations("刑法第一百三十三条之一第一款第（二）项", resolver)
    assert (c.number, c.suffix, c.paragraph, c.item) == (133, "之一", 1, 2)
    assert c.span == "刑法第一百三十三条之一第一款第（二）项"


def test_lists_and_ranges_inherit_the_law(resolver):
    assert cites("《民法典》第1076条、第1077条、1079条", resolver) == [
        (CIVIL, 1076, ""), (CIVIL, 1077, ""), (CIVIL, 1079, "")]
    assert cites("刑法第二十条至第二十三条", resolver) == [(CRIMINAL, n, "") for n in (20, 21, 22, 23)]


def test_ben_fa_refers_to_the_law_named_before(resolver):
    assert cites("刑法第三条规定……本法第五条、该法第六条", resolver) == [
        (CRIMINAL, 3, ""), (CRIMINAL, 5, ""), (CRIMINAL, 6, "")]
    assert cites("本法第五条", resolver, default_law=CIVIL) == [(CIVIL, 5, "")]


def test_unresolvable_citations_are_kept_with_a_reason(resolver):
    repealed, unnamed = find_citations("合同法第52条无效；第5条也是", resolver)
    assert repealed.law is None and "民法典" in repealed.error and repealed.span == "合同法第52条"
    assert unnamed.law is None and "no law" in unnamed.error


def test_numbers_that_are_not_citations_are_ignored(resolver):
    assert find_citations("我有3条建议，价格是1043元", resolver) == []


def test_a_reference_in_any_written_form_resolves_to_its_article(resolver):
    assert parse_reference("《中华人民共和国刑法》第一百三十三条之一", resolver) == (CRIMINAL, 133, "之一")
    assert parse_reference("刑法 133-1", resolver) == (CRIMINAL, 133, "之一")
    assert parse_reference("民法典第1043条", resolver) == (CIVIL, 1043, "")
    with pytest.raises(CitationError):
        parse_reference("第1043条", resolver)
    with pytest.raises(CitationError):
        parse_reference("物权法第1条", resolver)
