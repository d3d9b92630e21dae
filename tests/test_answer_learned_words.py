"""A person asks in their own words (遣散费, 开车) and the answer still quotes the 款 that says it in statute
words (经济补偿, 驾驶), because clause selection credits a question word through the statute words the index
learned it stands for; and the relevance gate learns what a legal question looks like from the same lay
questions, fitting its semantic classifier once per index build. Real fixture store, real indexes."""
from __future__ import annotations

from types import SimpleNamespace

from assistant.answer.backends.extractive import NO_ANSWER
from assistant.answer.gate import SEMANTIC_FILE, RelevanceGate, read_gate_questions, training_questions
from assistant.answer.pipeline import build_assistant
from assistant.answer.select import ClauseSelector, Terms
from assistant.search import load_retriever
from assistant.search.index import build_index

from test_search_lay_questions import QUESTIONS as LAY_QUESTIONS, SEVERANCE, _write

QUESTIONS = LAY_QUESTIONS[:3]  # three ways of asking about severance pay (遣散费), the statutes' 经济补偿


def test_a_word_covered_through_a_learned_statute_word_counts_half_its_strength():
    terms = Terms({"开车": 1.0, "喝酒": 1.0})
    terms.alternatives = {"开车": [("驾驶", 0.8)]}
    text = "饮酒后驾驶机动车的，处暂扣六个月机动车驾驶证。"
    assert ClauseSelector.coverage(terms, text) == 0.5 * 0.5 * 0.8  # half the words, each at 0.5 x strength
    assert ClauseSelector.coverage(dict(terms), text) == 0.0  # the words alone: nothing covered
    assert ClauseSelector.coverage(terms, "驾驶机动车应当喝酒") == 0.5 + 0.5 * 0.5 * 0.8  # found itself: full


def test_law_names_and_one_character_words_are_not_taken_as_what_a_word_means():
    selector = ClauseSelector()
    selector._retriever = SimpleNamespace(learned=SimpleNamespace(term_map={
        "开车": [("道路交通安全法", 1.0), ("民法典", 0.9), ("驾驶", 0.9), ("车", 0.9), ("机动", 0.3)]}))
    assert selector.learned_alternatives(["开车"]) == {"开车": [("驾驶", 0.9)]}
    assert ClauseSelector().learned_alternatives(["开车"]) == {}  # no index, nothing learned


def test_severance_pay_in_everyday_words_is_answered_from_the_article_not_refused(fixture_store, tmp_path,
                                                                                   monkeypatch):
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(_write(tmp_path / "lay.jsonl", QUESTIONS)))
    build_index(fixture_store, tmp_path / "index", embedder="bm25-only", progress=False)
    retriever = load_retriever(store=fixture_store, index_dir=tmp_path / "index", build_if_missing=False,
                               progress=False)
    bot = build_assistant("extractive", store=fixture_store, retriever=retriever)
    question = "遣散费有多少"
    terms = bot.selector.terms(question)
    assert "补偿" in [w for w, _ in terms.alternatives["遣散费"]]
    selection = bot.selector.select(question, retriever.search(question, top_k=5))
    clause = next(c for c in selection.clauses if c.hit.id == SEVERANCE)
    assert clause.coverage > 0 and ClauseSelector.coverage(dict(terms), clause.text) == 0
    answer = bot.ask(question)
    assert answer.finish_reason != "refused" and answer.text != NO_ANSWER
    assert "第四十七条" in answer.text.split("\n")[0]


def test_the_gate_learns_legal_questions_from_the_lay_question_file(tmp_path, monkeypatch):
    written, other = read_gate_questions()
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(_write(tmp_path / "lay.jsonl", QUESTIONS)))
    pos, neg = training_questions()
    assert pos == written + [q["query"] for q in QUESTIONS] and neg == other
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", "none")
    assert training_questions() == (written, other)


def test_the_gate_learns_from_questions_about_every_law_not_only_the_first_rows(tmp_path, monkeypatch):
    import assistant.answer.gate as gate_module

    # the first rows ask about one law only, as the file's everyday questions do; the rest about others
    rows = [{"id": f"a{i}", "query": f"工资问题{i}", "citations": [{"law": "劳动合同法", "article": i}]} for i in range(1, 6)]
    rows += [{"id": f"b{i}", "query": f"离婚问题{i}", "citations": [{"law": "民法典", "article": 1000 + i % 2}]} for i in range(6)]
    rows += [{"id": "c1", "query": "一次最多能献多少血", "citations": [{"law": "献血法", "article": 9}]}]
    monkeypatch.setattr(gate_module, "GATE_LAY_QUESTIONS", 3)
    monkeypatch.setattr(gate_module, "GATE_LAY_SPREAD", 6)
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(_write(tmp_path / "lay.jsonl", rows)))
    lay = training_questions()[0][len(read_gate_questions()[0]):]
    # the first three rows, then one question per article round-robin over the laws of the rest: 献血法 is
    # taken in the first round though it is the last row; 民法典's six questions give two (two articles)
    assert lay == ["工资问题1", "工资问题2", "工资问题3", "工资问题4", "离婚问题0", "一次最多能献多少血", "工资问题5",
                   "离婚问题1"]


def test_the_semantic_classifier_is_fitted_once_per_index_build_and_read_back(store, retriever, monkeypatch,
                                                                              tmp_path):
    import assistant.answer.gate as gate_module
    from assistant.search.index import default_cache_path
    from assistant.search.vector_cache import VectorCache

    fits = []

    class CountedFit(gate_module.SemanticClassifier):
        def __init__(self, positives=None, *args, **kwargs):
            if positives is not None:
                fits.append(len(positives))
            super().__init__(positives, *args, **kwargs)

    monkeypatch.setattr(gate_module, "SemanticClassifier", CountedFit)
    monkeypatch.setattr(gate_module, "_QUESTION_VECTORS", {})
    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", str(_write(tmp_path / "lay.jsonl", QUESTIONS)))
    saved = retriever.index.folder / SEMANTIC_FILE
    saved.unlink(missing_ok=True)
    fitted = RelevanceGate(store, retriever=retriever).semantic()
    pos, neg = training_questions()
    assert fits == [len(pos)] and saved.is_file()
    # the questions' vectors went to the home's vector cache: a refit after an edit embeds only new ones
    cache = VectorCache(default_cache_path(retriever.index.folder.parent.parent))
    hashes = [gate_module._text_hash(t) for t in pos + neg]
    assert len(cache.get_many(retriever.embedder.id, retriever.embedder.dim, hashes)) == len(set(pos + neg))
    cache.close()

    read_back = RelevanceGate(store, retriever=retriever).semantic()
    assert fits == [len(pos)]  # not fitted again: read from the build folder
    vector = retriever.embedder.embed_documents(["工资被拖欠了怎么办"])[0]
    assert abs(read_back.probability(vector) - fitted.probability(vector)) < 1e-6

    monkeypatch.setenv("ASSISTANT_LAY_QUESTIONS", "none")  # other training questions: fitted anew
    RelevanceGate(store, retriever=retriever).semantic()
    assert fits == [len(pos), len(read_gate_questions()[0])]
