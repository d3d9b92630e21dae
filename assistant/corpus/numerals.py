"""Chinese numerals <-> integers, and article numbers such as 第一百三十三条之一.

Statutes write article numbers in Chinese (第一千零四十三条); users and models write them either way
(民法典第1043条, 刑法133条之一, 刑法 133-1). Everything here is total: bad input raises ``ValueError``
with the offending text, never returns a wrong number.
"""
from __future__ import annotations

import re

_DIGITS = {"零": 0, "〇": 0, "○": 0, "Ｏ": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "三": 3, "叁": 3,
           "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
           "九": 9, "玖": 9}
_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000}
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")

#: characters that may appear in a Chinese numeral (for building regular expressions)
CN_NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS) + "".join(_BIG_UNITS)
NUMERAL_PATTERN = f"[{CN_NUMERAL_CHARS}0-9０-９]+"


def cn_to_int(text: str) -> int:
    """一千零四十三 -> 1043, 两百 -> 200, 十一 -> 11, 〇 -> 0, '1043' -> 1043, 一〇四三 -> 1043."""
    s = text.strip().translate(_FULLWIDTH)
    if not s:
        raise ValueError("empty numeral")
    if s.isdigit():
        return int(s)
    if any(ch not in _DIGITS and ch not in _UNITS and ch not in _BIG_UNITS for ch in s):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if all(ch in _DIGITS for ch in s) and len(s) > 1:
        # positional style (一〇四三), used in dates and some drafts
        if "两" in s:
            raise ValueError(f"not a Chinese numeral: {text!r}")
        return int("".join(str(_DIGITS[ch]) for ch in s))
    total = section = 0
    digit: int | None = None
    last_unit = 10**9
    last_big = 10**12
    for ch in s:
        if ch in _DIGITS:
            if digit is not None:
                raise ValueError(f"two digits in a row in {text!r}")
            digit = _DIGITS[ch]
            if digit == 0:
                digit = None  # 零 only marks a skipped unit
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit:
                raise ValueError(f"unit {ch!r} out of order in {text!r}")
            if digit is None:
                if section or total or unit != 10:
                    if unit != 10 or section:
                        raise ValueError(f"unit {ch!r} without a digit in {text!r}")
                digit = 1  # 十一 = 11, but 百 alone is not a number
            section += digit * unit
            digit = None
            last_unit = unit
        else:
            big = _BIG_UNITS[ch]
            if big >= last_big:
                raise ValueError(f"unit {ch!r} out of order in {text!r}")
            section += digit or 0
            if section == 0:
                raise ValueError(f"unit {ch!r} without a number in {text!r}")
            total += section * big
            section, digit, last_unit, last_big = 0, None, 10**9, big
    return total + section + (digit or 0)


def int_to_cn(n: int) -> str:
    """1043 -> 一千零四十三, 10 -> 十, 110 -> 一百一十, 0 -> 零 (the form statutes use)."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"need a non-negative int, got {n!r}")
    if n == 0:
        return "零"
    digits = "零一二三四五六七八九"

    def below_10000(m: int, leading: bool) -> str:
        out: list[str] = []
        zero = False
        for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            d = m // unit % 10
            if d == 0:
                zero = bool(out) or not leading
                continue
            if zero and (out or not leading):
                out.append("零")
            zero = False
            if unit == 10 and d == 1 and not out and leading:
                out.append("十")  # 十一, not 一十一, at the start of a number
            else:
                out.append(digits[d] + name)
        return "".join(out)

    parts: list[str] = []
    for big, name in ((100_000_000, "亿"), (10_000, "万"), (1, "")):
        chunk = n // big % 10_000 if big < 100_000_000 else n // big
        if chunk == 0:
            continue
        leading = not parts
        text = below_10000(chunk, leading)
        if parts and chunk < 1000:
            text = "零" + text.lstrip("零")
        parts.append(text + name)
    return "".join(parts)


_SUFFIX_NAMES = ["之一", "之二", "之三", "之四", "之五", "之六", "之七", "之八", "之九", "之十"]


def suffix_to_int(suffix: str) -> int:
    """之一 -> 1; '' -> 0."""
    if not suffix:
        return 0
    m = re.fullmatch(r"之(.+)", suffix)
    if not m:
        raise ValueError(f"not an article suffix: {suffix!r}")
    return cn_to_int(m.group(1))


def int_to_suffix(n: int) -> str:
    return "" if n == 0 else "之" + int_to_cn(n)


_ARTICLE_RE = re.compile(
    rf"^\s*第?\s*(?P<num>{NUMERAL_PATTERN})\s*条?\s*"
    rf"(?:(?:之\s*(?P<sub>{NUMERAL_PATTERN}))|(?:[-－—‐](?P<dash>\d+)))?\s*$"
)


def parse_article_number(text: str) -> tuple[int, str]:
    """第一百三十三条之一 / 133条之一 / 133-1 / 第1043条 -> (number, suffix) with suffix in 之一 form."""
    m = _ARTICLE_RE.match(text.translate(_FULLWIDTH))
    if not m:
        raise ValueError(f"not an article number: {text!r}")
    number = cn_to_int(m.group("num"))
    sub = m.group("sub") or m.group("dash")
    suffix = int_to_suffix(cn_to_int(sub)) if sub else ""
    if number <= 0:
        raise ValueError(f"article numbers start at 1: {text!r}")
    return number, suffix


def article_number_text(number: int, suffix: str = "") -> str:
    """(133, '之一') -> 第一百三十三条之一."""
    return f"第{int_to_cn(number)}条{suffix}"
