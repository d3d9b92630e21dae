"""Statute corpus: the ``Article`` type, the SQLite ``ArticleStore``, importers and name/number helpers."""
from assistant.corpus.article import Article, make_article_id, split_article_id
from assistant.corpus.laws import AmbiguousLawName, LawNameError, LawResolver, UnknownLawName
from assistant.corpus.store import ArticleStore, ImportDiff, LawDocument, LawInfo

__all__ = ["Article", "ArticleStore", "ImportDiff", "LawDocument", "LawInfo", "LawResolver", "LawNameError",
           "AmbiguousLawName", "UnknownLawName", "make_article_id", "split_article_id", "open_store"]


def open_store(path=None, *, readonly: bool = False) -> ArticleStore:
    """The store at ``path`` (default: ``$ASSISTANT_DB`` or ``indexes/corpus.sqlite``)."""
    from assistant.config import Paths

    return ArticleStore(path or Paths().db, readonly=readonly)
