"""Finding the law a user means: 民法典, 《中华人民共和国民法典》, 刑诉法, 消保法, 个保法 …"""
import pytest

from assistant.corpus.laws import AmbiguousLawName, LawResolver, UnknownLawName, normalize_law_name

NAMES = ["中华人民共和国民法典", "中华人民共和国刑法", "中华人民共和国刑事诉讼法", "中华人民共和国民事诉讼法",
         "中华人民共和国消费者权益保护法", "中华人民共和国个人信息保护法", "中华人民共和国劳动法",
         "中华人民共和国劳动合同法", "中华人民共和国保险法", "中华人民共和国社会保险法",
         "中华人民共和国刑法修正案（十一）"]


@pytest.fixture
def resolver():
    return LawResolver(NAMES)


@pytest.mark.parametrize("name,full", [
    ("民法典", "中华人民共和国民法典"), ("《中华人民共和国民法典》", "中华人民共和国民法典"),
    ("《民法典》", "中华人民共和国民法典"), ("刑诉法", "中华人民共和国刑事诉讼法"),
    ("民诉法", "中华人民共和国民事诉讼法"), ("消保法", "中华人民共和国消费者权益保护法"),
    ("个保法", "中华人民共和国个人信息保护法"), ("刑法", "中华人民共和国刑法"),
    ("劳动合同", "中华人民共和国劳动合同法"), ("中华人民共和国劳动法（2018修正）", "中华人民共和国劳动法"),
    ("劳动", "中华人民共和国劳动法"),
])
def test_a_user_can_name_a_law_the_usual_ways(resolver, name, full):
    assert resolver.resolve(name) == full


def test_an_ambiguous_name_lists_candidates_instead_of_guessing(resolver):
    with pytest.raises(AmbiguousLawName) as err:
        resolver.resolve("诉讼法")
    assert set(err.value.candidates) == {"中华人民共和国刑事诉讼法", "中华人民共和国民事诉讼法"}


def test_a_short_name_inside_another_law_name_lists_candidates():
    resolver = LawResolver(["中华人民共和国国防交通法", "中华人民共和国道路交通安全法", "中华人民共和国劳动合同法"])
    with pytest.raises(AmbiguousLawName) as err:
        resolver.resolve("交通法")  # not 国防交通法 silently
    assert set(err.value.candidates) == {"中华人民共和国国防交通法", "中华人民共和国道路交通安全法"}
    assert resolver.resolve("国防交通") == "中华人民共和国国防交通法"
    assert resolver.resolve("劳动合同") == "中华人民共和国劳动合同法"


def test_a_repealed_law_says_what_replaced_it(resolver):
    with pytest.raises(UnknownLawName, match="民法典"):
        resolver.resolve("合同法")


def test_successor_of_a_repealed_law():
    from assistant.corpus.laws import successor_of

    assert successor_of("《中华人民共和国合同法》").startswith("民法典") and successor_of("婚姻").startswith("民法典")
    assert successor_of("刑法") is None


def test_an_unknown_law_is_reported(resolver):
    with pytest.raises(UnknownLawName):
        resolver.resolve("星际航行法")


def test_law_name_at_the_end_of_a_clause(resolver):
    assert resolver.resolve_suffix("根据刑法") == ("刑法", "中华人民共和国刑法")
    assert resolver.resolve_suffix("依照刑诉法") == ("刑诉法", "中华人民共和国刑事诉讼法")
    # bare words that happen to be aliases are not law names inside a sentence
    assert resolver.resolve_suffix("我们公司") is None


def test_normalize_strips_marks_version_notes_and_prefix():
    assert normalize_law_name(" 《中华人民共和国公司法》（2023修订） ") == "公司法"


@pytest.mark.parametrize("name,full", [
    ("民法商法劳动合同法", "中华人民共和国劳动合同法"),  # LawBench's category glued to the name
    ("社会法劳动法", "中华人民共和国劳动法"),
    ("诉讼与非诉讼程序法民事诉讼法", "中华人民共和国民事诉讼法"),
    ("刑法刑法", "中华人民共和国刑法"),
    ("刑法中华人民共和国刑事诉讼法", "中华人民共和国刑事诉讼法"),
])
def test_a_category_before_the_law_name_still_finds_the_law(resolver, name, full):
    assert resolver.resolve(name) == full


def test_the_longest_law_name_at_the_end_wins_and_ambiguity_is_still_listed(resolver):
    # 劳动合同法 ends with neither 劳动法 nor 合同法: the whole name is the law, never a shorter one inside it
    assert resolver.resolve("社会法劳动合同法") == "中华人民共和国劳动合同法"
    with pytest.raises(AmbiguousLawName) as err:
        resolver.resolve("诉讼法")
    assert len(err.value.candidates) == 2
    shared = LawResolver(["中华人民共和国宪法修正案（2004年）", "中华人民共和国宪法修正案（2018年）"])
    with pytest.raises(AmbiguousLawName) as err:
        shared.resolve("宪法宪法修正案")  # a prefix does not make a shared short name unique
    assert len(err.value.candidates) == 2


def test_a_local_regulation_is_not_taken_for_the_national_law_of_that_name():
    resolver = LawResolver(["物业管理条例", "中华人民共和国劳动法"])
    with pytest.raises(UnknownLawName):
        resolver.resolve("北京市物业管理条例")
    assert resolver.resolve("行政法规物业管理条例") == "物业管理条例"


@pytest.mark.parametrize("name", ["宪法修正案2004年", "宪法修正案(2004)", "《宪法修正案（2004年）》",
                                  "中华人民共和国宪法修正案2004年"])
def test_a_year_after_the_name_picks_that_version(name):
    resolver = LawResolver(["中华人民共和国宪法修正案（1999年）", "中华人民共和国宪法修正案（2004年）",
                            "中华人民共和国宪法"])
    assert resolver.resolve(name) == "中华人民共和国宪法修正案（2004年）"
    with pytest.raises(AmbiguousLawName):
        resolver.resolve("宪法修正案")
    with pytest.raises(AmbiguousLawName):
        resolver.resolve("宪法修正案2010年")  # a year no version has: still a choice for the user


def test_a_recitation_question_cites_the_article_it_names(resolver):
    from assistant.corpus.citations import find_citations

    [cit] = find_citations("民法商法劳动合同法第十条的内容是什么？", resolver)
    assert cit.id == "中华人民共和国劳动合同法#10"
    dated = LawResolver(["中华人民共和国宪法修正案（1999年）", "中华人民共和国宪法修正案（2004年）"])
    [cit] = find_citations("宪法修正案2004年第二十四条的内容是什么？", dated)
    assert cit.id == "中华人民共和国宪法修正案（2004年）#24"


def test_two_laws_joined_are_not_one_prefixed_name(resolver):
    with pytest.raises(UnknownLawName):
        resolver.resolve("工伤保险条例和劳动合同法")
