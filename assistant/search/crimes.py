"""刑法 crime names (罪名) per article, from the PyPI package ``legal-documents-cn`` when it is installed.

The crime name is the strongest lexical link between a case description (盗窃手机 …) and the article that
defines the crime (第二百六十四条【盗窃罪】). The package ships 刑法 with 【罪名】 titles; its numbering is
checked against our corpus article by article (text similarity), and titles whose text does not match
the corpus article are dropped rather than attached to the wrong article.
"""
from __future__ import annotations

import csv
import difflib
import re
from functools import lru_cache
from importlib import resources

from assistant.corpus.numerals import int_to_cn

CRIMINAL_LAW = "中华人民共和国刑法"
_TITLE = re.compile(r"^【([^】]*)】")


@lru_cache(maxsize=1)
def _package_rows() -> tuple[tuple[int, str, list[str], str], ...]:
    try:
        path = resources.files("legal_documents_cn") / "criminal_law.csv"
        text = path.read_text(encoding="utf-8-sig")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return ()
    out = []
    for row in csv.DictReader(text.splitlines()):
        try:
            number = int(row["article_code"])
        except (KeyError, ValueError):
            continue
        sub = row.get("article_sub_code") or ""
        suffix = f"之{int_to_cn(int(sub))}" if sub.isdigit() else ""
        names = [n for n in re.split(r"[;；、,，]", (row.get("article_name") or "").strip("【】")) if n.endswith("罪")]
        body = _TITLE.sub("", row.get("article_content") or "")
        out.append((number, suffix, names, body))
    return tuple(out)


def crime_names(store) -> dict[str, list[str]]:
    """article id -> crime names, for 刑法 articles whose text matches the package's text."""
    rows = _package_rows()
    if not rows:
        return {}
    out: dict[str, list[str]] = {}
    for number, suffix, names, body in rows:
        if not names:
            continue
        art = store.find(CRIMINAL_LAW, number, suffix)
        if art is None:
            continue
        a, b = art.text[:80], body[:80]
        if difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() < 0.6:
            continue
        out[art.id] = names
    return out


def available() -> bool:
    return bool(_package_rows())
