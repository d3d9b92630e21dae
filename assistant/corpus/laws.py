"""Law-name resolution: 民法典 / 《中华人民共和国民法典》 / 刑诉法 / 消保法 ... -> the full name in the corpus.

Names are resolved against the laws the store actually holds. A name that fits several laws is reported
with its candidates (``AmbiguousLawName``), never guessed; a name of a law that was repealed and is not in
the corpus (合同法, 物权法 ...) is reported with what replaced it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

PRC = "中华人民共和国"

#: common abbreviations -> short name (full name without 中华人民共和国)
ALIASES: dict[str, str] = {
    "刑诉法": "刑事诉讼法", "民诉法": "民事诉讼法", "行诉法": "行政诉讼法",
    "消保法": "消费者权益保护法", "消法": "消费者权益保护法", "个保法": "个人信息保护法",
    "个人信息法": "个人信息保护法", "劳动合同": "劳动合同法", "道交法": "道路交通安全法",
    "道路交通法": "道路交通安全法", "治安法": "治安管理处罚法", "治安处罚法": "治安管理处罚法",
    "食安法": "食品安全法", "环保法": "环境保护法", "数安法": "数据安全法", "网安法": "网络安全法",
    "未保法": "未成年人保护法", "妇女法": "妇女权益保障法", "妇保法": "妇女权益保障法",
    "老年法": "老年人权益保障法", "税收征管法": "税收征收管理法", "征管法": "税收征收管理法",
    "个税法": "个人所得税法", "企业所得税": "企业所得税法", "反家暴法": "反家庭暴力法",
    "反不当竞争法": "反不正当竞争法", "反垄断": "反垄断法", "仲裁": "仲裁法",
    "劳动仲裁法": "劳动争议调解仲裁法", "劳动争议仲裁法": "劳动争议调解仲裁法",
    "民法": "民法典", "中国民法典": "民法典", "刑事法": "刑法", "行政强制": "行政强制法",
    "行政处罚": "行政处罚法", "行政许可": "行政许可法", "行政复议": "行政复议法",
    "国家赔偿": "国家赔偿法", "著作法": "著作权法", "版权法": "著作权法", "商标": "商标法",
    "专利": "专利法", "公司": "公司法", "证券": "证券法", "保险": "保险法", "宪": "宪法",
}

#: laws that were repealed and are not in the default corpus -> what replaced them
REPEALED: dict[str, str] = {
    name: "民法典（2021年1月1日起施行，原法同时废止）"
    for name in ("合同法", "物权法", "婚姻法", "继承法", "担保法", "收养法", "民法通则", "民法总则",
                 "侵权责任法")
}

#: a version note such as （2018修正） / （2004年）; a numbered part of a name such as 修正案（十二） or 解释（三）
#: is not one and stays
_VERSION_NOTE = re.compile(r"[（(][^（()）]*(?:\d|修正|修订|修改|版)[^（()）]*[)）]$")


class LawNameError(ValueError):
    """A name that does not resolve to exactly one law in the corpus."""

    def __init__(self, name: str, message: str, candidates: list[str] | None = None):
        super().__init__(message)
        self.name = name
        self.candidates = candidates or []


class UnknownLawName(LawNameError):
    pass


class AmbiguousLawName(LawNameError):
    pass


def normalize_law_name(name: str) -> str:
    """Strip 《》, spaces, a version note such as （2018修正） and the 中华人民共和国 prefix."""
    s = re.sub(r"\s+", "", name or "").strip("《》<>〈〉\"'“”")
    s = s.replace("《", "").replace("》", "")
    while True:
        t = _VERSION_NOTE.sub("", s)
        if t == s:
            break
        s = t
    if s.startswith(PRC) and len(s) > len(PRC):
        s = s[len(PRC):]
    return s


def short_name(full_name: str) -> str:
    return normalize_law_name(full_name)


#: the part of the successor a repealed law's subject lives in (to search there, not in all of 民法典)
SUCCESSOR_TOPIC = {"婚姻法": "婚姻家庭", "继承法": "继承", "合同法": "合同", "物权法": "物权", "侵权责任法": "侵权责任",
                   "收养法": "收养", "担保法": "担保", "民法通则": "民事", "民法总则": "民事"}


def successor_topic(short_name: str) -> str:
    """婚姻法 -> 婚姻家庭: where in its successor a repealed law's subject is ('' when not known)."""
    return SUCCESSOR_TOPIC.get(short_name, "")


def successor_of(name: str) -> str | None:
    """What replaced a repealed law that the corpus does not hold (合同法 / 婚姻 / 《物权法》 -> 民法典 …), or None.

    For answers that must say what replaced a law a question names; a repealed law that *is* in the corpus
    has status 已废止 in the store instead.
    """
    key = normalize_law_name(name)
    alias = ALIASES.get(key)
    for k in (key, alias, key + "法"):
        if k and k in REPEALED:
            return REPEALED[k]
    return None


@dataclass
class LawResolver:
    """Resolves free-form law names against a fixed list of full names (the corpus' laws)."""

    full_names: list[str]

    def __post_init__(self) -> None:
        self.full_names = sorted(set(self.full_names))
        self._full_set = set(self.full_names)
        self._by_short: dict[str, list[str]] = {}
        for full in self.full_names:
            self._by_short.setdefault(short_name(full), []).append(full)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> "LawResolver":
        return cls(list(names))

    def __contains__(self, full_name: str) -> bool:
        return full_name in self._by_short.get(short_name(full_name), [])

    def resolve(self, name: str) -> str:
        """Return the unique full name for ``name`` or raise ``LawNameError``."""
        exact_full = re.sub(r"\s+", "", name or "").strip("《》")
        if exact_full in self._full_set:
            # a stored full name wins before normalising: 宪法修正案（2004年） keeps its version note
            return exact_full
        key = normalize_law_name(name)
        if not key:
            raise UnknownLawName(name, "empty law name")
        exact = self._by_short.get(key)
        if exact and len(exact) == 1:
            return exact[0]
        if exact:
            raise AmbiguousLawName(name, f"law name {name!r} fits several laws: {'、'.join(exact)}", exact)
        alias = ALIASES.get(key)
        if alias and alias in self._by_short and len(self._by_short[alias]) == 1:
            return self._by_short[alias][0]
        repealed = successor_of(key)
        if repealed:
            raise UnknownLawName(name, f"《{key}》 is repealed and not in the corpus; replaced by {repealed}")
        # a unique law whose short name contains the key (劳动合同 -> 劳动合同法), shortest names preferred
        if len(key) >= 2:
            hits = [s for s in self._by_short if key in s]
            # a unique name that starts with the key is what people mean (劳动合同 -> 劳动合同法); a name that
            # only contains it (交通法 in 国防交通法) is another law unless nothing else fits: ask
            if len(hits) == 1 and len(self._by_short[hits[0]]) == 1 and hits[0].startswith(key):
                return self._by_short[hits[0]][0]
            if len(hits) == 1:
                cands = sorted({*self._by_short[hits[0]], *self._loose_candidates(key)}, key=len)
                raise AmbiguousLawName(
                    name, f"law name {name!r} is not the name of a law; did you mean: {'、'.join(cands[:8])}"
                    + (" …" if len(cands) > 8 else ""), cands)
            if len(hits) > 1:
                # a law name that is the key plus 法 (劳动 -> 劳动法) is what people mean
                if key + "法" in self._by_short and len(self._by_short[key + "法"]) == 1:
                    return self._by_short[key + "法"][0]
                cands = sorted((full for s in hits for full in self._by_short[s]), key=len)
                raise AmbiguousLawName(
                    name, f"law name {name!r} is ambiguous; did you mean: {'、'.join(cands[:8])}"
                    + (" …" if len(cands) > 8 else ""), cands)
        raise UnknownLawName(name, f"no law named {name!r} in the corpus")

    def _loose_candidates(self, key: str) -> list[str]:
        """Laws whose short name holds the key's characters in order (交通法 -> 道路交通安全法)."""
        pattern = re.compile(".*".join(map(re.escape, key)))
        return [full for short, fulls in self._by_short.items() if pattern.search(short) for full in fulls]

    def try_resolve(self, name: str) -> str | None:
        try:
            return self.resolve(name)
        except LawNameError:
            return None

    def resolve_suffix(self, text: str, max_len: int = 40) -> tuple[str, str] | None:
        """Find the longest tail of ``text`` that names a law exactly (short name, full name or alias).

        Used for citations written without book-title marks: in 根据刑法第133条 the text before 第 is
        根据刑法, whose tail 刑法 names a law. Only exact names count here (no substring guessing), so a
        sentence never resolves to a law by accident. Returns (matched tail, full name).
        """
        text = text[-max_len:]
        for start in range(len(text)):
            tail = text[start:]
            key = tail[len(PRC):] if tail.startswith(PRC) else tail
            if key in self._by_short and len(self._by_short[key]) == 1:
                return tail, self._by_short[key][0]
            alias = ALIASES.get(key)
            # bare aliases such as 公司 / 保险 are words, not citations; only 刑诉法-style ones count
            if alias and key.endswith(("法", "典")) and alias in self._by_short \
                    and len(self._by_short[alias]) == 1:
                return tail, self._by_short[alias][0]
        return None
