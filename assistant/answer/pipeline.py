"""The grounded pipeline: history-aware retrieval -> prompt -> generation (streamed) -> citation check.

    assistant = build_assistant()                      # extractive, default store and index
    for event in assistant.stream("醉驾怎么处罚"):
        if event.kind == "token": print(event.text, end="")
    answer = assistant.ask("醉驾怎么处罚")               # Answer with sources and citation report
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from assistant.answer.backends.base import Backend, GenerationRequest, make_backend
from assistant.answer.check import CitationChecker
from assistant.answer.limits import check_question
from assistant.answer.prompt import (DRAFT_INSTRUCTION, SHORT_INSTRUCTION, SYSTEM_INSTRUCTION, PromptConfig,
                                     build_messages, normalize_history, short_context_texts)
from assistant.answer.types import Answer, StreamEvent, recited_law

log = logging.getLogger(__name__)

EMPTY_OUTPUT = "（模型没有生成任何内容。请参考下列检索到的法条。）"
CUT_OFF = "（回答因长度限制被截断。）"
GARBLED = "（模型输出看起来不是正常的文字，请谨慎对待。）"
FAILED = "（生成回答时出错：{error}。请参考下列检索到的法条。）"
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class PipelineConfig:
    top_k: int = 5
    max_new_tokens: int = 512
    #: sampling temperature of a request that gives none (None / 0: greedy)
    temperature: float | None = None
    prompt: PromptConfig = field(default_factory=PromptConfig)
    #: retrieval candidates reranked by the clause selector before the top_k are kept
    candidates: int = 15
    #: rerank by the 款 that answer (embedder, term mappings, question type); False keeps retrieval's order
    select_clauses: bool = True
    #: refuse questions the relevance gate judges not to be legal questions
    relevance_gate: bool = True
    #: articles given to a small model (backends with short_context)
    short_context_articles: int = 3
    #: before search, ask the answering model to restate the question in statute wording
    #: (``assistant.search.rewrite``; ``--rewrite-with-model``). Off: on the dev sets Qwen2.5-Coder-0.5B's
    #: rewrite did not help retrieval, 1.5B's little (R@5 +0.007 to +0.018), for 1.5-7 s per question on a
    #: CPU thread (docs/results/25_retrieval_rewrite.json, 26_retrieval_rewrite_1.5b.json)
    rewrite_with_model: bool = False
    #: give the model the extractive answer's lead (the deciding 款 quoted after its citation) as a draft to
    #: rewrite in plain words (DRAFT_INSTRUCTION). None: when the backend is an untuned general model
    #: (``Backend.writes_from_draft``: llama.cpp, transformers without an adapter); True / False: always / never
    draft: bool | None = None
    #: when no retrieved 款 decides the question (the clause model's silence threshold), lead with the general
    #: rule of the nearest rule's 编 or law (its 通则 / 总则 / 一般规定, ``assistant.answer.general``) when found
    general_rule: bool = True


def looks_garbled(text: str) -> bool:
    """Replacement characters, or a long answer with almost no Chinese and few words: not an answer."""
    t = text.strip()
    if not t:
        return False
    if t.count("\ufffd") >= max(1, len(t) // 20):
        return True
    cjk = len(_CJK.findall(t))
    letters = sum(ch.isalpha() for ch in t)
    return len(t) >= 20 and cjk / len(t) < 0.2 and letters / len(t) < 0.5


class GroundedAssistant:
    def __init__(self, retriever, backend: Backend, store, checker: CitationChecker | None = None,
                 config: PipelineConfig | None = None, rewriter=None):
        self.retriever = retriever
        self.backend = backend
        self.store = store
        self.checker = checker or CitationChecker(store, retriever=retriever)
        self.config = config or PipelineConfig()
        #: the question restated in statute wording before search (``assistant.search.rewrite``): the given
        #: rewriter (a model loaded for it), else the answering model itself when the config asks for it
        if rewriter is None and self.config.rewrite_with_model:
            from assistant.answer.backends.base import rewriter_for

            rewriter = rewriter_for(backend)
        self.rewriter = rewriter
        from assistant.answer.gate import RelevanceGate
        from assistant.answer.general import GeneralRules
        from assistant.answer.select import ClauseSelector

        self._serving = getattr(retriever, "current", retriever)  # behind a LiveRetriever: the build serving now
        self.selector = ClauseSelector.for_retriever(self._serving)
        self.gate = RelevanceGate(store, retriever=self._serving)
        self.general_rules = GeneralRules(self._serving, store)

    def _follow_swaps(self) -> None:
        """After a live index swap, clause selection and the gate use the new build's embedder, tokens and
        word statistics (and let the old build go), as search does."""
        from assistant.answer.gate import RelevanceGate
        from assistant.answer.general import GeneralRules
        from assistant.answer.select import ClauseSelector

        serving = getattr(self.retriever, "current", self.retriever)
        if serving is not self._serving:
            self._serving = serving
            self.selector = ClauseSelector.for_retriever(serving, self.selector.config)
            self.gate = RelevanceGate(self.store, retriever=serving, config=self.gate.config, model=self.gate.model)
            self.general_rules = GeneralRules(serving, self.store)

    def candidates(self, query, n: int, search: dict):
        """Retrieval's candidates for the question (named articles first), amendments consolidated: what
        ``ask`` chooses 款 from (``scripts/fit_clause_model.py`` and ``fit_gate.py`` fit on the same)."""
        return self._consolidated(self.retriever.search(query, top_k=n, reworded=True, **search))

    def _consolidated(self, hits):
        """Amendment documents (修正案) give way to the base law's consolidated article (answer/amended.py)."""
        from assistant.answer.amended import prefer_consolidated

        try:
            return prefer_consolidated(hits, self.store)
        except Exception as exc:  # a store without a resolver: the hits as found
            log.warning("amendment consolidation of sources failed: %s", exc)
            return list(hits)

    def _with_general_rule(self, query, selection, search: dict, k: int):
        """No retrieved 款 decides the question: the general rule of the nearest rule's 编 or law leads
        (``assistant.answer.general``), the retrieved rules after it; the selection as it was when none is found."""
        if not self.config.general_rule or not selection.clauses or selection.clauses[0].hit.via == "citation":
            return selection
        from assistant.answer.general import with_general_rule

        try:
            clause = self.general_rules.find(query, selection.clauses[0].hit.article, self.selector, search)
        except Exception as exc:  # the general rule is a help: the nearest retrieved rule still answers
            log.warning("general rule lookup failed: %s", exc)
            return selection
        return with_general_rule(selection, clause, k) if clause is not None else selection

    def _short_context_clauses(self, selection, candidates) -> list:
        """What a small model reads: the best articles by the 款 that answers (short_context_articles - 1 of
        them), plus retrieval's best candidate not among them, as its best 款. Clause choice serves the
        lead sentence but drops good candidates: on dev rows 60-209 this mix held a gold article for 49% / 57%
        of STARD / lawyer-llama questions, the clause choice's top 3 for 47% / 54%."""
        from dataclasses import replace

        n = max(1, self.config.short_context_articles)
        clauses = list(selection.clauses[:max(1, n - 1)])
        chosen = {c.hit.id for c in clauses}
        extra = next((h for h in candidates if h.id not in chosen), None) if n > 1 else None
        if extra is not None:
            clause = next((c for c in selection.clauses if c.hit.id == extra.id), None)
            if clause is None:
                try:
                    clause = self.selector.select(selection.question, [extra], top_k=1).clauses[0]
                except Exception as exc:  # the candidate stays out; the model still gets the others
                    log.warning("clause selection for a retrieval candidate failed: %s", exc)
            if clause is not None:
                clauses.append(clause)
        return [replace(c, hit=replace(c.hit, rank=rank)) for rank, c in enumerate(clauses, 1)]

    def drafts(self) -> bool:
        """Whether the model is given the extractive draft (``PipelineConfig.draft``, else the backend's kind)."""
        if self.config.draft is not None:
            return self.config.draft
        return bool(getattr(self.backend, "writes_from_draft", False))

    def _draft(self, query, selection, used) -> str | None:
        """The extractive answer laid out as the answer (``compose_draft``: what the deciding 款 answers, then
        each answering 款 after 根据《法名》第N条[n]的规定，, [n] the article's place in the prompt) for a model
        that rewrites it; None when it gets no draft or no 款 answers (the prompt then stays as it was)."""
        if selection is None or not used or not self.drafts():
            return None
        from assistant.answer.backends.extractive import compose_draft

        try:
            return compose_draft(query, selection, used)
        except Exception as exc:  # the draft is a help; the model still answers from the articles
            log.warning("draft for the model failed: %s", exc)
            return None

    def _exact_lookup_first(self, question: str, notes):
        """(notes, whether the question cites an article the corpus holds). Such a question (劳动法第三条,
        民法商法农民专业合作社法第一条) is answered from that article: it is searched as written, not replaced by
        a missing law's subject, and a word glued before the cited law's name (a category such as 社会法 in
        社会法《劳动合同法》第十条) is not reported as a law the corpus lacks."""
        from dataclasses import replace

        from assistant.answer.gate import missing_law_note
        from assistant.corpus.citations import find_citations

        try:
            cited = [c for c in find_citations(question, self.store.resolver(), limit=50)
                     if c.id and self.store.get(c.id) is not None]
        except Exception as exc:  # a citation the finder chokes on: the notes decide, as before
            log.warning("citation lookup for law notes failed: %s", exc)
            return notes, False
        if not cited:
            return notes, False
        glued = {name for name in notes.missing for c in cited if c.law_text and re.search(
            re.escape(name) + r"\s*《?\s*" + re.escape(c.law_text), question)}
        if glued:
            note = notes.note or ""
            for name in glued:
                note = note.replace(missing_law_note(self.store.resolver(), name), "")
            missing = [m for m in notes.missing if m not in glued]
            notes = replace(notes, missing=missing, note=note or None, query=notes.query if missing else None)
        return notes, True

    def _refusal(self, question: str, gate, started: float) -> Iterator[StreamEvent]:
        yield StreamEvent("sources", hits=[])
        yield StreamEvent("token", text=gate.message)
        yield StreamEvent("done", answer=Answer(
            question=question, text=gate.message, sources=[], citations=[], backend=self.backend.name,
            model=self.backend.model_name, notice=gate.notice, latency_ms=(time.perf_counter() - started) * 1000,
            finish_reason="refused"))

    def info(self) -> dict[str, Any]:
        return self.backend.info()

    def read(self, question: str, history: list[str]):
        """The ``Query`` of a question against the index serving now (``ask``'s first stage)."""
        from assistant.search.query import read_query

        return read_query(question, history, retriever=self._serving, rewriter=self.rewriter)

    def _on_day(self, hits, day: str):
        """Every source as it reads on ``day`` (a consolidated base article arrives as stored)."""
        from dataclasses import replace

        from assistant.corpus.status import article_for_day

        out, seen = [], set()
        for h in hits:
            if h.article.extra.get("as_of") != day:
                try:
                    h = replace(h, article=article_for_day(self.store, h.article, day))
                except Exception as exc:  # a store without dates or history: the hit as found
                    log.warning("status on %s failed for %s: %s", day, h.id, exc)
            if h.id not in seen:
                seen.add(h.id)
                out.append(h)
        return out

    def stream(self, question: str, history: Sequence[Any] | None = None, *, top_k: int | None = None,
               law: str | None = None, include_repealed: bool = False,
               temperature: float | None = None, max_new_tokens: int | None = None,
               as_of: str | None = None) -> Iterator[StreamEvent]:
        """``as_of``: the day the question is about (YYYY-MM-DD, today by default): sources are the texts in
        force that day, citations are checked against them, and a text not yet in force then is said so."""
        from assistant.corpus.status import day_or_today

        started = time.perf_counter()
        question = check_question(question)
        day = day_or_today(as_of)
        self._follow_swaps()
        pairs = normalize_history(history)
        k = top_k or self.config.top_k
        # the question is read once (a follow-up such as 那如果是醉驾呢？ with the turn it follows); every stage
        # below takes this Query instead of re-reading the words
        query = self.read(question, [q for q, _ in pairs])
        standalone = query.standalone
        notes = None
        if self.config.relevance_gate and self.gate is not None:
            try:
                notes = self.gate.law_notes(standalone)
            except Exception as exc:  # law-name notes are a courtesy; never fail the answer for them
                log.warning("law notes failed: %s", exc)
                from assistant.answer.gate import LawNotes

                notes = LawNotes()
        searched = query
        names_article = False
        if notes is not None:
            notes, names_article = self._exact_lookup_first(standalone, notes)
        if notes is not None and not law and (notes.law or notes.query) and not names_article:
            # a repealed law named: search its successor, by subject (the old article number means nothing
            # there); a law missing from the corpus: search its subject in the laws the corpus has
            law = notes.law
            if notes.query:
                searched = self.read(notes.query, [q for q, _ in pairs])
        search = dict(law=law, include_repealed=include_repealed, as_of=day)
        selection = None
        gate = None
        candidates: list = []
        if self.config.select_clauses and self.selector is not None:
            hits = candidates = self.candidates(searched, max(k, self.config.candidates), search)
            try:
                selection = self.selector.select(searched, hits, top_k=k)
            except Exception as exc:  # a broken selector must not cost the answer: answer from the ranking
                log.warning("clause selection failed: %s", exc)
                hits = hits[:k]
            else:
                hits = selection.hits
                if searched is not query:  # searched by subject for a repealed or missing law: the notes say so
                    selection.decided = True
                elif not selection.decided:
                    selection = self._with_general_rule(searched, selection, search, k)
                    hits = selection.hits
        else:
            hits = self.candidates(searched, k, search)
        hits = self._on_day(hits, day)
        if notes is not None:
            try:
                gate = self.gate.judge(query, selection, hits, law=law, include_repealed=include_repealed,
                                       notes=notes)
            except Exception as exc:  # a broken gate must not cost the answer: answer, and say so
                log.warning("relevance gate failed: %s", exc)
                from assistant.answer.gate import GateResult

                gate = GateResult(False, 1.0, 1.0, f"gate failed: {exc}")
            gate.note = notes.note
            if gate.refuse:
                yield from self._refusal(question, gate, started)
                return
        max_new = max_new_tokens or self.config.max_new_tokens
        budget = self.backend.context_budget(self.config.prompt.context_budget, max_new)
        prompt_config = PromptConfig(context_budget=budget, template=self.config.prompt.template,
                                     system=self.config.prompt.system)
        texts = None
        if getattr(self.backend, "short_context", False) and selection is not None:
            # small models: the few best 款, not whole long articles, and an answer-first instruction
            hits, texts = short_context_texts(self._short_context_clauses(selection, candidates))
            if prompt_config.system == SYSTEM_INSTRUCTION:
                prompt_config.system = SHORT_INSTRUCTION
        messages, used = build_messages(question, hits, pairs, prompt_config, self.backend.count_tokens, texts)
        draft = self._draft(query, selection, used)
        if draft:
            if prompt_config.system in (SYSTEM_INSTRUCTION, SHORT_INSTRUCTION):
                prompt_config.system = DRAFT_INSTRUCTION
            messages, used = build_messages(question, hits, pairs, prompt_config, self.backend.count_tokens, texts,
                                            draft=draft)
        yield StreamEvent("sources", hits=used)

        request = GenerationRequest(question=question, hits=used, messages=messages, history=pairs,
                                    max_new_tokens=max_new, selection=selection, query=query,
                                    temperature=self.config.temperature if temperature is None else temperature)
        chunks: list[str] = []
        notices = [self.backend.notice] if self.backend.notice else []
        if gate is not None and gate.note:
            # 《工伤保险条例》 not in the corpus / 婚姻法 repealed: said before the answer, once
            chunks.append(gate.note + "\n")
            yield StreamEvent("token", text=gate.note + "\n")
        # about the articles the question names when it names some (a recitation of 票据法第二十四条 says
        # nothing of a 农业法 article that merely came up in search), else about every source
        version_note = version_notes([h for h in used if h.via == "citation"] or used, day)
        if version_note:
            # only a text not yet in force stored / a revision that starts later: said before the answer
            chunks.append(version_note + "\n")
            yield StreamEvent("token", text=version_note + "\n")
        finish = "stop"
        try:
            for delta in self.backend.stream(request):
                chunks.append(delta)
                yield StreamEvent("token", text=delta)
            finish = request.finish_reason
        except Exception as exc:  # a broken model or endpoint must not take the answer down with it
            finish = "error"
            tail = FAILED.format(error=str(exc)[:200])
            notices.append(f"生成失败：{exc}")
            tail = ("\n" if chunks else "") + tail
            chunks.append(tail)
            yield StreamEvent("token", text=tail)
        generated = "".join(chunks)
        if finish != "error":
            extra = None
            if not generated.strip():
                finish, extra = "empty", EMPTY_OUTPUT
                notices.append("模型返回了空回答")
            elif finish == "length":
                extra = CUT_OFF
                notices.append(f"回答在 {max_new} 个新词元处被截断")
            elif looks_garbled(generated):
                extra = GARBLED
                notices.append("模型输出格式异常")
            if extra:
                extra = ("\n" if generated.strip() else "") + extra
                generated += extra
                yield StreamEvent("token", text=extra)
        # the version note names article numbers as facts about the law, not as the answer's claims
        checked = generated.replace(version_note, " " * len(version_note), 1) if version_note else generated
        used_ids = [h.id for h in used]

        def check(text: str):
            return self.checker.check(text, context_ids=used_ids, as_of=day, default_law=recited_law(used))

        checks = check(checked)
        from assistant.answer.basis import attribution_line, rescore_basis_citations

        if finish == "stop" and self.backend.name != "extractive" and used \
                and not any(c.citation.id in used_ids for c in checks):
            # a model's answer that names none of its articles: the ones whose text it says, on a basis line
            try:
                basis = attribution_line(checked, used, self.checker)
            except Exception as exc:
                basis = None
                log.warning("attribution failed: %s", exc)
            if basis:
                extra = ("\n" if not generated.endswith("\n") else "") + basis
                generated, checked = generated + extra, checked + extra
                yield StreamEvent("token", text=extra)
                notices.append("模型没有注明出处：最后一行的依据是按回答内容与法条的相符程度补上的")
                checks = check(checked)
        from assistant.answer.facts import answer_flags

        try:  # 依据：《…》第N条 on its own line: the claim above it is what the citation supports
            rescore_basis_citations(checks, checked, self.checker, self.store)
        except Exception as exc:
            log.warning("basis-line support failed: %s", exc)

        try:
            fact_flags = answer_flags(generated, checks, used, standalone)
        except Exception as exc:  # the extra check must never cost the answer
            fact_flags = []
            notices.append(f"数字核查失败：{exc}")
        if fact_flags:
            notices.append("回答中有法条未载明的数字：" + "、".join(f.text for f in fact_flags))
        answer = Answer(question=question, text=generated, sources=used, citations=checks,
                        backend=self.backend.name, model=self.backend.model_name,
                        notice="；".join(notices) or None,
                        latency_ms=(time.perf_counter() - started) * 1000, finish_reason=finish,
                        fact_flags=fact_flags, as_of=day, version_note=version_note or None)
        yield StreamEvent("done", answer=answer)

    def ask(self, question: str, history: Sequence[Any] | None = None, **options) -> Answer:
        answer = None
        for event in self.stream(question, history, **options):
            if event.kind == "done":
                answer = event.answer
        assert answer is not None
        return answer

    def close(self) -> None:
        self.backend.close()


def version_notes(hits, day: str) -> str:
    """What the answer says first about the versions of its sources on ``day``: a law whose only stored text
    is not in force yet (现行商标法的条文不在法条库中；以下是2027-01-01起施行的新法), and a law in force whose
    stored revision starts later (the new one, with its date and the new article number)."""
    from assistant.corpus.status import STATUS_NOT_IN_FORCE_YET

    not_yet: dict[str, str] = {}
    upcoming: dict[str, tuple[str, list[str]]] = {}
    # a law with an article in force among the hits has a current text: its not-yet articles are the new law's
    in_force_laws = {h.article.law_short for h in hits if h.article.status != STATUS_NOT_IN_FORCE_YET}
    for h in hits:
        a = h.article
        extra = a.extra or {}
        if a.status == STATUS_NOT_IN_FORCE_YET and (extra.get("older_text_differs") or a.law_short in in_force_laws):
            start = extra.get("effective_from") or ""
            upcoming.setdefault(a.law_short, (start, []))[1].append(f"{a.number_text}是新法的条文，{day}尚未施行")
        elif a.status == STATUS_NOT_IN_FORCE_YET:
            not_yet.setdefault(a.law_short, extra.get("effective_from") or "")
        elif extra.get("upcoming"):
            start, moved = upcoming.setdefault(a.law_short, (extra["upcoming"], []))
            if extra.get("renumbered_label"):
                new_number = extra["renumbered_label"].split("》")[-1]
                moved.append(f"{a.number_text}在新法中为{new_number}")
    notes = []
    for law, start in not_yet.items():
        when = f"{start}起施行" if start else "尚未施行"
        notes.append(f"现行{law}的条文不在法条库中；以下是{when}的新法（{day}尚未施行）。")
    for law, (start, moved) in upcoming.items():
        notes.append(f"以下依据{day}有效的{law}；修订后的新法自{start}起施行"
                     + (f"（{'，'.join(moved[:2])}{'等' if len(moved) > 2 else ''}）" if moved else "") + "。")
    return "".join(notes)


def build_assistant(backend: str = "extractive", model: str | None = None, adapter: str | None = None,
                    store=None, retriever=None, config: PipelineConfig | None = None, rewriter=None,
                    **backend_options) -> GroundedAssistant:
    """The pipeline over the default store and index (built when missing) unless given. ``rewriter``: a
    ``QueryRewriter`` over another model than the answering one (``config.rewrite_with_model`` uses that one)."""
    if store is None:
        from assistant.corpus import open_store

        store = open_store(readonly=True)
    if retriever is None:
        from assistant.search import load_retriever

        retriever = load_retriever(store=store)
    engine = make_backend(backend, model=model, adapter=adapter, **backend_options)
    return GroundedAssistant(retriever, engine, store, config=config, rewriter=rewriter)
