"""Document kinds in search: the --kind filter and "the law first, the interpretation that applies it next"
(real store from our collection fixtures, real BM25 index)."""
import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

COLLECTION = Path(__file__).parent / "fixtures" / "collection"
LAW = "中华人民共和国示例物业服务法"
INTERPRETATION = "最高人民法院关于适用《中华人民共和国示例物业服务法》的解释"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("kinds")
    folder = home / "laws"
    shutil.copytree(COLLECTION, folder)
    (folder / "行政法规" / "示例物业管理条例(2018-03-19).md").unlink()  # the deliberately broken file
    run_cli("corpus", "import", folder, home=home)
    run_cli("index", "build", "--embedder", "bm25-only", home=home)
    return home


@pytest.fixture(scope="module")
def retriever(home):
    from assistant.corpus import ArticleStore
    from assistant.search import load_retriever

    store = ArticleStore(home / "corpus.sqlite", readonly=True)
    return load_retriever(store, home / "search", build_if_missing=False)


def search_cli(home, *args):
    return run_cli("search", *args, "--json", home=home, check=False)


def test_only_judicial_interpretations_when_asked(home):
    proc = search_cli(home, "物业费", "--kind", "司法解释", "--top-k", "10")
    hits = json.loads(proc.stdout)
    assert hits and {h["kind"] for h in hits} == {"司法解释"}
    laws = json.loads(search_cli(home, "物业费", "--kind", "法律", "--top-k", "10").stdout)
    assert laws and {h["law"] for h in laws} == {LAW}


def test_an_unknown_kind_lists_the_kinds(home):
    proc = search_cli(home, "物业费", "--kind", "判例")
    assert proc.returncode == 2 and "unknown document kind 判例" in proc.stderr and "司法解释" in proc.stderr


def test_kind_filter_in_the_library(retriever):
    hits = retriever.search("物业费", top_k=10, kind=["法律", "司法解释"])
    assert {h.article.kind for h in hits} <= {"法律", "司法解释"}
    assert all(h.article.law == LAW for h in retriever.search("物业费", top_k=10, kind="法律"))


def test_the_law_comes_before_the_interpretation_that_applies_it(retriever):
    # the interpretation repeats the question's words, so fused scores alone put it first
    hits = retriever.search("人民法院审查服务是否按约定提供 业主支付物业费", top_k=4)
    order = [h.id for h in hits]
    law_pos = order.index(f"{LAW}#3")
    assert order[law_pos + 1] == f"{INTERPRETATION}#1"
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    scores = {h.id: h.score for h in hits}
    assert scores[f"{INTERPRETATION}#1"] > scores[f"{LAW}#3"]  # it really was ranked first by score


def test_reordering_moves_only_interpretations_that_name_a_found_law():
    from assistant.corpus.article import Article
    from assistant.search.kind_order import law_before_interpretation
    from assistant.search.types import Hit

    def hit(law, n, text, kind, score):
        return Hit(Article(law=law, number=n, text=text, kind=kind), score, 0, "bm25")

    interp = hit("最高人民法院关于审理示例案件的规定", 1, "依照示例法第三条处理。", "司法解释", 0.9)
    other = hit("最高人民法院关于另一事项的规定", 1, "与之无关。", "司法解释", 0.85)
    law = hit("中华人民共和国示例法", 3, "第三条的内容。", "法律", 0.8)
    cited = hit("中华人民共和国别的法", 1, "被问题点名的条文。", "法律", 1.0)
    out = law_before_interpretation([cited, interp, other, law], first_movable=1)
    assert out == [cited, other, law, interp]
    assert law_before_interpretation([law, interp]) == [law, interp]


def test_source_cards_show_the_document_kind(retriever):
    from assistant.webui.render import article_card

    hit = retriever.search("物业费", top_k=10, kind="司法解释")[0]
    html = article_card(hit.article, marker=1)
    assert '<span class="kind-badge">司法解释</span>' in html
    assert hit.to_dict()["kind"] == "司法解释"  # what answers' sources carry
