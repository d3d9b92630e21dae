"""Where things live. Every path can be set by an environment variable or passed explicitly."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _home() -> Path:
    return Path(os.environ.get("ASSISTANT_HOME", "indexes"))


@dataclass
class Paths:
    """Artefact locations: the article store and the search index live under one home folder."""

    home: Path = field(default_factory=_home)

    @property
    def db(self) -> Path:
        return Path(os.environ.get("ASSISTANT_DB", self.home / "corpus.sqlite"))

    @property
    def index_dir(self) -> Path:
        return Path(os.environ.get("ASSISTANT_INDEX", self.home / "search"))

    @property
    def cache(self) -> Path:
        """Things rebuilt when missing (the embedder's tokenizer and weights ready to load, jieba with the
        corpus vocabulary): ``$ASSISTANT_CACHE`` or the home's ``cache`` folder."""
        return Path(os.environ.get("ASSISTANT_CACHE") or self.home / "cache")

    @property
    def vector_cache(self) -> Path:
        return self.home / "vector_cache.sqlite"

    def ensure(self) -> "Paths":
        self.home.mkdir(parents=True, exist_ok=True)
        return self
