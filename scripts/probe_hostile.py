"""Replay a hostile-but-fair reliability and security probe and print what it found (not a test).

    python scripts/probe_hostile.py [--home H] [--files 320] [--strings 1000] [--gradio-strings 200]
                                    [--kills 6] [--rebuild-kills 6] [--seed 0] [--json out.json]

Everything runs on temporary copies (``--home`` is copied, never written): a store + index home (the given
one, or the default corpus with a bm25-only index) and a small home for the SIGKILL rounds.

Classes replayed:
1. fuzz corpus: ≥300 generated statute files (txt / md / docx / jsonl: valid laws, garbage names, huge
   numbers, wrong field types, JSON and XML bombs, lone surrogates, broken .docx, a one-article 刑法 …),
   each parsed, dry-run imported (what the web preview does) and imported;
2. ≥1,000 hostile strings through the citation checker, search, ask, the OpenAI-compatible API (real
   uvicorn server) and the Gradio endpoints /ask, /chat, /lookup_citation (real server);
3. anonymous admin calls: every statutes-tab function, by API name and by raw queue fn_index;
4. login brute force from one client;
5. SIGKILL at random moments of CLI imports, and of index rebuilds before / at / after the pointer swap
   (scripts/kill_rebuild.py);
6. worst-case time per call against input size (doubling sizes: linear growth doubles the time).

Prints one table per class and a summary table: tracebacks, data lost, anonymous admin actions, worst time.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CJK = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"
SEED_LAW = ["为了规范{x}活动，保护当事人的合法权益，制定本法。", "{x}应当遵守法律、行政法规，不得损害社会公共利益。",
            "违反本法规定的，由有关主管部门责令改正，处一万元以上五万元以下罚款。",
            "当事人对处罚决定不服的，可以依法申请行政复议或者提起行政诉讼。", "本法自公布之日起施行。"]


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------
class Tally:
    """Outcomes and worst times of one class of calls."""

    def __init__(self, name: str):
        self.name = name
        self.outcomes: Counter = Counter()
        self.n_tracebacks = 0
        self.tracebacks: list[str] = []
        self.info: list[str] = []
        self.lost = 0
        self.anon_admin = 0
        self.worst = (0.0, 0, "")  # seconds, input size, label

    def time(self, seconds: float, size: int, label: str) -> None:
        if seconds > self.worst[0]:
            self.worst = (seconds, size, label)

    def traceback(self, label: str, exc: BaseException | str) -> None:
        """A traceback or raw error reached the user (the caller counts the case's outcome)."""
        self.n_tracebacks += 1
        text = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc)[:160]}"
        self.tracebacks.append(f"{label}: {text}")

    def row(self) -> dict:
        return {"class": self.name, "cases": sum(self.outcomes.values()), **dict(self.outcomes),
                "tracebacks": self.n_tracebacks, "data_lost": self.lost,
                "anonymous_admin_actions": self.anon_admin, "worst_s": round(self.worst[0], 3),
                "worst_size": self.worst[1], "worst_case": self.worst[2][:60]}


def law_text(name: str, n: int, rng: random.Random) -> str:
    from assistant.corpus.numerals import int_to_cn

    lines = [name, "", "第一章　总则", ""]
    for i in range(1, n + 1):
        lines.append(f"第{int_to_cn(i)}条　" + rng.choice(SEED_LAW).format(x=name[-4:-1] or "活动"))
    return "\n".join(lines) + "\n"


def docx_bytes(text: str) -> bytes:
    from docx import Document

    doc = Document()
    for line in text.split("\n"):
        doc.add_paragraph(line)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in src.namelist():
            zf.writestr(name, replace.get(name, src.read(name)))
    return out.getvalue()


def jl(*rows, ascii_=True) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=ascii_) + "\n" for r in rows).encode()


# ---------------------------------------------------------------------------------------------------
# 1. fuzz corpus
# ---------------------------------------------------------------------------------------------------
def fuzz_files(n: int, rng: random.Random) -> list[tuple[str, str, bytes]]:
    """(kind, file name, bytes): named classes first, then random mutations of valid files up to ``n``."""
    files: list[tuple[str, str, bytes]] = []
    add = lambda kind, name, data: files.append((kind, name, data))
    good = law_text("中华人民共和国模糊测试法", 6, rng)
    # valid laws in every format
    for i in range(8):
        name = f"中华人民共和国模糊测试{CJK[i]}法"
        t = law_text(name, rng.randint(2, 30), rng)
        add("valid", f"valid{i}.txt", t.encode())
        add("valid", f"valid{i}.md", ("# " + t.replace("\n第", "\n## 第", 1)).encode())
        add("valid", f"valid{i}.docx", docx_bytes(t))
        add("valid", f"valid{i}.jsonl", jl(*({"law": name, "number": k, "text": rng.choice(SEED_LAW).format(x="测试")}
                                             for k in range(1, 6)), ascii_=False))
    # law names
    for label, title in [("《》", "《》"), ("version-note-only", "（2018修正）"), ("NUL", "中华人民共和国\x00测试法"),
                         ("BOM", "\ufeff中华人民共和国BOM测试法"), ("ANSI", "\x1b[31m中华人民共和国彩色法\x1b[0m"),
                         ("RTL", "中华人民共和国\u202e反向\u202c法"), ("100k-name", "法" * 100_000),
                         ("zero-width", "中华\u200b人民\u200d共和国零宽法"), ("only-spaces", "　　 "),
                         ("digits-only", "12345"), ("hash", "示例#法"), ("html", "<script>alert(1)</script>法")]:
        add(f"name:{label}", f"name-{len(files)}.txt", good.replace("中华人民共和国模糊测试法", title, 1).encode("utf-8", "surrogatepass"))
        add(f"name:{label}", f"name-{len(files)}.jsonl",
            json.dumps({"law": title, "number": 1, "text": "甲。"}).encode() + b"\n")
    # numbers
    for label, num in [("2^63", 2**63), ("2^64", 2**64), ("5000 digits", None), ("zero", 0), ("negative", -1),
                       ("float", 1.5), ("bool", True), ("string", "abc"), ("list", [1]), ("object", {"a": 1}),
                       ("100001", 100_001), ("cn-huge", "第九千亿零一条"), ("cn-long", "第" + "一" * 50 + "条")]:
        if num is None:
            add(f"number:{label}", "num-5000.jsonl", b'{"law": "\\u793a\\u4f8b\\u6cd5", "number": ' + b"9" * 5000 + b', "text": "x"}\n')
        else:
            add(f"number:{label}", f"num-{len(files)}.jsonl", jl({"law": "示例数字法", "number": num, "text": "甲。"}))
    for label, line in [("cn-huge", "第九千亿零一条　乙。"), ("cn-5000", "第" + "九" * 5000 + "条　乙。"),
                        ("cn-flood", "第" + "一" * 200_000 + "条　乙。")]:
        add(f"number:{label}", f"num-{len(files)}.txt", (good + line + "\n").encode())
    # JSONL field types, statuses, dates, surrogates
    for label, extra in [("chapter int", {"chapter": 12}), ("status list", {"status": ["现行有效"]}),
                         ("text list", {"text": ["甲"]}), ("law int", {"law": 5}), ("suffix int", {"suffix": 5}),
                         ("suffix bad", {"suffix": "之x"}), ("status unknown", {"status": "大概有效"}),
                         ("status english", {"status": "repealed"}), ("date impossible", {"promulgated": "2018-02-30"}),
                         ("date garbage", {"effective": "yesterday"}), ("date year 9999", {"version_date": "9999-01-01"}),
                         ("date int", {"promulgated": 20180101}), ("surrogate text", {"text": "甲\ud800乙"}),
                         ("surrogate law", {"law": "示例\udfff法"}), ("surrogate chapter", {"chapter": "\ud83d章"}),
                         ("NUL text", {"text": "甲\x00乙"}), ("huge text", {"text": "长" * 150_000}),
                         ("huge chapter", {"chapter": "章" * 5000}), ("empty text", {"text": "   "})]:
        row = {"law": "示例字段法", "number": 1, "text": "甲。", **extra}
        add(f"field:{label}", f"field-{len(files)}.jsonl", jl({"law": "示例字段法", "number": 2, "text": "乙。"}, row))
    # JSON structure
    add("json:nested 100k", "nested.jsonl", b"[" * 100_000 + b"]" * 100_000 + b"\n")
    add("json:nested dict", "nested2.jsonl", b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n")
    add("json:not object", "arr.jsonl", b"[1, 2, 3]\n")
    add("json:truncated", "trunc.jsonl", b'{"law": "\xe7\xa4\xba\xe4\xbe\x8b", "number": 1, "te')
    add("json:empty", "empty.jsonl", b"")
    # encodings / bytes
    add("bytes:random", "random.txt", bytes(rng.randrange(256) for _ in range(4000)))
    add("bytes:gb18030", "gb.txt", good.encode("gb18030"))
    add("bytes:utf16", "utf16.txt", good.encode("utf-16"))
    add("bytes:truncated utf8", "cut.txt", good.encode()[:-1])
    add("bytes:empty", "empty.txt", b"")
    add("bytes:whitespace", "ws.txt", b" \n\t\n")
    # structure
    add("structure:duplicate", "dup.txt", (good + "第一条　重复。\n").encode())
    add("structure:no articles", "noart.txt", "中华人民共和国空法\n\n总则\n".encode())
    add("structure:no text", "notext.txt", "中华人民共和国空条法\n第一条\n".encode())
    add("structure:10k articles", "big.txt", law_text("中华人民共和国大型测试法", 10_000, rng).encode())
    add("structure:backwards", "back.txt", "示例倒序法\n第三条　丙。\n第一条　甲。\n".encode())
    # docx
    dx = docx_bytes(good)
    with zipfile.ZipFile(io.BytesIO(dx)) as zf:
        document_xml = zf.read("word/document.xml")
    add("docx:not zip", "text.docx", "这不是 Word 文件".encode())
    add("docx:empty", "empty.docx", b"")
    add("docx:OLE", "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1000))
    add("docx:truncated", "cut.docx", dx[: len(dx) // 2])
    add("docx:no document.xml", "nodoc.docx", rezip(dx, {}).replace(b"word/document.xml", b"word/documenx.xml"))
    add("docx:malformed xml", "badxml.docx", rezip(dx, {"word/document.xml": b"<w:document><unclosed>"}))
    bomb = b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa">' + b"".join(
        b'<!ENTITY %s "%s">' % (chr(98 + i).encode(), (b"&" + chr(97 + i).encode() + b";") * 10) for i in range(9)) + b"]>"
    add("docx:entity bomb", "bomb.docx", rezip(dx, {"word/document.xml": document_xml.replace(b"?>", b"?>" + bomb, 1)
                                                    .replace(b"<w:body>", b"<w:body><w:p><w:r><w:t>&j;</w:t></w:r></w:p>", 1)}))
    add("docx:external entity", "xxe.docx", rezip(dx, {"word/document.xml": document_xml.replace(
        b"?>", b'?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1).replace(
        b"<w:body>", b"<w:body><w:p><w:r><w:t>&x;</w:t></w:r></w:p>", 1)}))
    zb = io.BytesIO()
    with zipfile.ZipFile(zb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"<" + b" " * (210 * 1024 * 1024))
    add("docx:zip bomb", "zipbomb.docx", zb.getvalue())
    # destructive: one article under the name of the biggest stored laws
    add("destructive:刑法", "xingfa.txt", "中华人民共和国刑法\n第一条　为了惩罚犯罪，制定本法。\n".encode())
    add("destructive:民法典", "mfd.jsonl", jl({"law": "中华人民共和国民法典", "number": 1, "text": "只剩一条。"}, ascii_=False))
    # random mutations of valid files up to n
    snippets = ["\x00", "\ufeff", "\x1b[2J", "\u202e", "\ud800", "第九千亿零一条", "《》", "（2018修正）", "第" * 50,
                "一" * 500, "<script>", "第二条", "第一章", "目录", "# ", "\r\n", "\t", "\uffff", "😀"]
    base = [f for f in files if f[0] == "valid"]
    while len(files) < n:
        kind, name, data = rng.choice(base)
        suffix = Path(name).suffix
        if suffix == ".docx":
            text = law_text(f"中华人民共和国变异{CJK[rng.randrange(200)]}法", rng.randint(1, 8), rng)
            lines = text.split("\n")
            lines.insert(rng.randrange(len(lines)), rng.choice(snippets))
            try:
                data = docx_bytes("\n".join(lines).replace("\ud800", "?").replace("\x00", ""))
            except ValueError:
                continue
            if rng.random() < 0.3:
                cut = rng.randrange(len(data))
                data = data[:cut] + bytes([rng.randrange(256)]) + data[cut + 1:]
        else:
            text = data.decode("utf-8")
            lines = text.split("\n")
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(lines))
                op = rng.random()
                if op < 0.5:
                    lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)] + rng.choice(snippets) + lines[i]
                elif op < 0.75:
                    del lines[i]
                else:
                    lines.insert(i, lines[rng.randrange(len(lines))])
            data = "\n".join(lines).encode("utf-8", "surrogatepass")
            if rng.random() < 0.2:
                cut = rng.randrange(len(data))
                data = data[:cut] + bytes([rng.randrange(256)]) + data[cut + 1:]
        add("mutation", f"mut{len(files)}{suffix}", data)
    return files


def run_fuzz_imports(files, store, workdir: Path) -> Tally:
    from assistant.corpus.parse import StatuteParseError, parse_file
    from assistant.corpus.store import DestructiveImportError

    tally = Tally(f"fuzz corpus ({len(files)} files)")
    rows = defaultdict(Counter)
    for i, (kind, name, data) in enumerate(files):
        path = workdir / f"{i:04d}-{name}"
        path.write_bytes(data)
        before = store.fingerprint()
        counts_before = {law.law: law.articles for law in store.laws()}
        t0 = time.perf_counter()
        outcome = None
        try:
            parsed = parse_file(path, display_name=name)
            store.import_laws(parsed.documents, dry_run=True, replace=True)  # the web preview's check
            try:
                diffs = store.import_laws(parsed.documents)
                outcome = "imported"
                for d in diffs:  # an accepted import may not take most of a law with it
                    if d.removes_large_part:
                        tally.lost += len(d.removed)
            except DestructiveImportError:
                outcome = "refused: would remove most of a law"
            except ValueError as exc:
                outcome = "preview ok, import failed"
                tally.traceback(name, f"preview passed but import failed: {exc}")
        except StatuteParseError as exc:
            outcome = "refused with file/line error"
            if not str(exc).startswith(name):
                tally.traceback(name, f"error does not name the file: {exc}")
        except Exception as exc:  # anything else reached the user as a traceback
            outcome = "traceback"
            tally.traceback(name, exc)
        dt = time.perf_counter() - t0
        tally.time(dt, len(data), f"{kind} {name}")
        tally.outcomes[outcome] += 1
        rows[kind.split(":")[0]][outcome] += 1
        if outcome != "imported" and store.fingerprint() != before:
            tally.lost += 1
        if outcome == "imported":
            after = {law.law: law.articles for law in store.laws()}
            touched = {d.law for d in diffs}
            tally.lost += sum(1 for law, n in counts_before.items() if law not in touched and after.get(law) != n)
        path.unlink()
    print(f"\n## 1. fuzz corpus: {len(files)} statute files (parse → dry-run import → import)\n")
    print("| file class | " + " | ".join(OUTCOMES) + " |")
    print("|---|" + "---|" * len(OUTCOMES))
    for kind, c in sorted(rows.items()):
        print(f"| {kind} | " + " | ".join(str(c.get(o, 0)) for o in OUTCOMES) + " |")
    return tally


OUTCOMES = ("imported", "refused with file/line error", "refused: would remove most of a law",
            "preview ok, import failed", "traceback")


# ---------------------------------------------------------------------------------------------------
# 2. hostile strings
# ---------------------------------------------------------------------------------------------------
def hostile_strings(n: int, rng: random.Random) -> list[str]:
    templates = [
        lambda k: "一" * k, lambda k: "一" * k + "x", lambda k: "第" * k, lambda k: "第一" * k, lambda k: "1" * k,
        lambda k: "1-" * k, lambda k: "第1条、" * max(1, k // 5), lambda k: "民法典第1条至第30条，" * max(1, k // 12),
        lambda k: "《" * k, lambda k: "《民法典》" * max(1, k // 5), lambda k: "刑法第" * max(1, k // 3),
        lambda k: "\ud800" * k, lambda k: "\x00" * k, lambda k: "\x1b[31m" * max(1, k // 5), lambda k: "\u202e" * k,
        lambda k: "<script>alert(1)</script>" * max(1, k // 25), lambda k: "本法第一条" * max(1, k // 5),
        lambda k: "之一" * max(1, k // 2), lambda k: "第一条第二款第（三）项" * max(1, k // 11), lambda k: "零" * k,
        lambda k: "😀" * k, lambda k: "\ufeff" * k, lambda k: "\n" * k, lambda k: " " * k + "醉驾",
        lambda k: "醉驾怎么处罚" + "？" * k, lambda k: "' OR 1=1 --" * max(1, k // 11), lambda k: "%s%n{0}" * max(1, k // 7),
        lambda k: "../" * max(1, k // 3) + "etc/passwd", lambda k: "刑法133-1" * max(1, k // 8),
        lambda k: "民法典第一千零七十九条" * max(1, k // 11),
    ]
    out = []
    for t in templates:
        for size in (1, 10, 100, 1000, 10_000, 100_000):
            out.append(t(size))
    pools = [CJK, "第条款项之一二三四五六七八九十百千万零1234567890-、至", "《》（）()【】“”\"'<>&;#%",
             "".join(map(chr, range(0, 32))), "\u202a\u202b\u202c\u202d\u202e\u200b\u200d\ufeff\ud800\udfff",
             "醉驾离婚冷静期三倍赔偿劳动合同试用期工伤"]
    while len(out) < n:
        size = rng.choice((1, 5, 20, 80, 300, 1500))
        chars = "".join(rng.choice(pools) for _ in range(3))
        out.append("".join(rng.choice(chars) for _ in range(size)))
    return out


def clean_library_error(exc: BaseException) -> bool:
    """An exception a caller is meant to catch and show: ValueError with a message."""
    return isinstance(exc, ValueError) and bool(str(exc))


def run_library_strings(strings, checker, retriever, assistant) -> list[Tally]:
    out = []
    for name, call in (("check", lambda s: checker.check(s)),
                       ("search", lambda s: retriever.search(s, top_k=5)),
                       ("ask (pipeline)", lambda s: assistant.ask(s))):
        tally = Tally(f"{name}: {len(strings)} hostile strings")
        for s in strings:
            t0 = time.perf_counter()
            try:
                call(s)
                tally.outcomes["answered"] += 1
            except Exception as exc:
                if clean_library_error(exc):
                    tally.outcomes["clear error"] += 1
                else:
                    tally.outcomes["traceback"] += 1
                    tally.traceback(repr(s[:30]), exc)
            tally.time(time.perf_counter() - t0, len(s), repr(s[:20]))
        out.append(tally)
    return out


def run_api_strings(strings, url, rng) -> Tally:
    import httpx

    tally = Tally(f"API /v1/chat/completions: {len(strings)} strings + bad options")
    bad_options = [{"top_k": "abc"}, {"temperature": "hot"}, {"max_tokens": [1]}, {"top_k": 10**9}, {"top_k": -5},
                   {"temperature": float("1e308")}, {"law": 5}, {"include_repealed": "yes"}, {"stream": "no"},
                   {"max_tokens": -1}, {"top_k": 2.5}, {"law": "火星法"}, {}]
    with httpx.Client(timeout=120) as client:
        for i, s in enumerate(strings):
            body = {"messages": [{"role": "user", "content": s}], **rng.choice(bad_options)}
            if i % 7 == 0:
                body["messages"].insert(0, {"role": "assistant", "content": s[:50]})
            t0 = time.perf_counter()
            try:
                payload = json.dumps(body, ensure_ascii=True)  # lone surrogates travel as \\ud800 escapes
                r = client.post(url + "/chat/completions", content=payload, headers={"content-type": "application/json"})
                code = r.status_code
                tally.outcomes[f"HTTP {code}"] += 1
                if code >= 500 or "Traceback" in r.text:
                    tally.traceback(repr(s[:30]), f"HTTP {code}: {r.text[:120]}")
            except Exception as exc:
                tally.outcomes["client exception"] += 1
                tally.traceback(repr(s[:30]), exc)
            tally.time(time.perf_counter() - t0, len(s), repr(s[:20]))
        # raw bodies
        for raw in (b"[" * 100_000, b"{", b'"x"', b"\xff\xfe", b'{"messages": ' + b"9" * 5000 + b"}", b"null"):
            r = client.post(url + "/chat/completions", content=raw, headers={"content-type": "application/json"})
            tally.outcomes[f"HTTP {r.status_code}"] += 1
            if r.status_code >= 500:
                tally.traceback(repr(raw[:20]), f"HTTP {r.status_code}")
    return tally


@contextlib.contextmanager
def captured_stderr():
    buf = io.StringIO()
    old = sys.stderr
    sys.stderr = buf
    try:
        yield buf
    finally:
        sys.stderr = old


def start_gradio(assistant, store, config):
    from assistant.webui.app import create_app, start_in_background

    app = create_app(assistant, store, config=config)
    return app, start_in_background(app)


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def run_gradio_strings(app, strings, url, token) -> Tally:
    """Each string through /ask, /chat and (logged in) /lookup_citation. gradio_client cannot encode a lone
    surrogate, so those strings go through the raw queue as JSON \\ud800 escapes, as any HTTP client can."""
    import uuid

    from gradio_client import Client
    from gradio_client.exceptions import AppError

    tally = Tally(f"Gradio /ask /chat /lookup_citation: {len(strings)} strings each")
    user = Client(url, verbose=False)
    admin = Client(url, verbose=False)
    assert "已登录" in str(admin.predict("", token, api_name="/admin_login"))
    fn_index = {d.get("api_name"): d["id"] for d in app.config["dependencies"]}
    for s in strings:
        for api, client in (("/ask", user), ("/chat", user), ("/lookup_citation", admin)):
            t0 = time.perf_counter()
            try:
                if _has_surrogate(s):
                    data = [s, None] if api == "/lookup_citation" else [s, None, 5, "", False]
                    session = admin.session_hash if api == "/lookup_citation" else uuid.uuid4().hex[:10]
                    res = queue_call(url, fn_index[api.strip("/")], data, session)
                    if res.get("success"):
                        tally.outcomes["answered"] += 1
                    else:
                        raise AppError(json.dumps(res.get("output"), ensure_ascii=False))
                else:
                    client.predict(s, api_name=api)
                    tally.outcomes["answered"] += 1
            except AppError as exc:
                msg = str(exc)
                tally.outcomes["clear error"] += 1
                if "Traceback" in msg or re.search(r"[A-Z][a-z]+Error", msg) or "/tmp/" in msg:
                    tally.traceback(f"{api} {s[:20]!r}", f"raw error to client: {msg[:120]}")
            except Exception as exc:
                tally.outcomes["client exception"] += 1
                tally.traceback(f"{api} {s[:20]!r}", exc)
            tally.time(time.perf_counter() - t0, len(s), f"{api} {s[:20]!r}")
    return tally


def server_log_tracebacks(log: str, tally: Tally) -> None:
    """Gradio logs every exception of a handler, including the gr.Error messages meant for the user; only
    the others are unhandled."""
    exception_line = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Iteration)\b")
    for block in log.split("Traceback (most recent call last)")[1:]:
        lines = block.strip().splitlines()
        if any(ln.startswith(("During handling of the above", "The above exception was")) for ln in lines):
            continue  # a chained exception: the next block ends with the one that was raised
        raised = [ln for ln in lines if exception_line.match(ln)]
        final = raised[-1] if raised else (lines[-1] if lines else "")
        if not final.startswith("gradio.exceptions.Error"):
            tally.traceback("server log", f"unhandled exception in a Gradio handler: {final[:160]}")


# ---------------------------------------------------------------------------------------------------
# 3./4. anonymous admin calls and login brute force
# ---------------------------------------------------------------------------------------------------
def queue_call(url: str, fn_index: int, data: list, session: str, timeout: float = 60) -> dict:
    import httpx

    with httpx.Client(timeout=timeout) as client:
        body = {"data": data, "fn_index": fn_index, "session_hash": session,
                "event_data": {"index": [0, 0], "value": "x", "selected": True}, "trigger_id": None}
        r = client.post(f"{url}/gradio_api/queue/join", content=json.dumps(body, ensure_ascii=True),
                        headers={"content-type": "application/json"})
        if r.status_code != 200:
            return {"success": False, "error": f"HTTP {r.status_code}"}
        with client.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("msg") == "process_completed":
                        return {"success": msg.get("success"), "output": msg.get("output")}
    return {"success": False, "error": "no result"}


def run_anonymous_admin(app, url, store, law_file: Path) -> Tally:
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    tally = Tally("anonymous admin calls (by API name and raw fn_index)")
    before = store.fingerprint()
    client = Client(url, verbose=False)
    named = [("/preview_statutes", ([handle_file(str(law_file))], "现行有效")),
             ("/import_statutes", ([handle_file(str(law_file))], "现行有效", True)),
             ("/lookup_citation", ("刑法第二百三十二条",))]
    for api, args in named:
        try:
            out = client.predict(*args, api_name=api)
            tally.anon_admin += 1
            tally.outcomes["ADMIN ACTION DONE"] += 1
            tally.tracebacks.append(f"{api} answered anonymously: {str(out)[:80]}")
        except AppError as exc:
            tally.outcomes["refused: login required" if "需要管理员登录" in str(exc) else "refused (other)"] += 1
    admin_fns = {"preview", "do_import", "browse", "browse_select", "lookup"}
    import uuid

    for dep in app.config["dependencies"]:
        fn = app.fns[dep["id"]].fn
        name = getattr(fn, "__name__", None)
        if name not in admin_fns:
            continue
        data = []
        for block_id in dep["inputs"]:
            kind = type(app.blocks[block_id]).__name__
            default = getattr(app.blocks[block_id], "value", None)
            # State True: a client trying to hand itself the "logged in" flag
            data.append({"File": None, "State": True, "Textbox": "刑法第二百三十二条", "Checkbox": True}.get(kind, default))
        res = queue_call(url, dep["id"], data, uuid.uuid4().hex[:10])
        if res.get("success"):
            tally.anon_admin += 1
            tally.outcomes["ADMIN ACTION DONE"] += 1
            tally.tracebacks.append(f"fn_index {dep['id']} ({name}) ran anonymously")
        else:
            text = json.dumps(res, ensure_ascii=False)
            tally.outcomes["refused: login required" if "需要管理员登录" in text else "refused (other)"] += 1
            if "需要管理员登录" not in text:
                tally.info.append(f"fn_index {dep['id']} ({name}) refused: {text[:160]}")
    if store.fingerprint() != before:
        tally.lost += 1
    return tally


def run_brute_force(url: str, token: str, attempts: int) -> tuple[Tally, str]:
    from gradio_client import Client

    tally = Tally(f"login brute force ({attempts} guesses, one client)")
    client = Client(url, verbose=False)
    checked = locked = 0
    t0 = time.perf_counter()
    for i in range(attempts):
        msg = str(client.predict("admin", f"guess{i:04d}", api_name="/admin_login"))
        if "次数过多" in msg:
            locked += 1
        elif "错误" in msg:
            checked += 1
        else:
            tally.anon_admin += 1
    right = str(client.predict("", token, api_name="/admin_login"))
    tally.outcomes["guesses checked"] += checked
    tally.outcomes["refused: locked out"] += locked
    tally.time((time.perf_counter() - t0) / attempts, attempts, "per guess")
    if "已登录" in right:
        tally.anon_admin += 1  # the lockout let a guess through
    note = (f"{checked} of {attempts} guesses were checked at all, {locked} refused by the lockout; "
            f"the right token during the lockout: {'refused' if '次数过多' in right else 'ACCEPTED'}")
    return tally, note


# ---------------------------------------------------------------------------------------------------
# 5. kill -9
# ---------------------------------------------------------------------------------------------------
def integrity(path: Path) -> bool:
    conn = sqlite3.connect(str(path))
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


def run_import_kills(home: Path, rounds: int, rng: random.Random) -> Tally:
    from assistant.corpus import ArticleStore

    tally = Tally(f"SIGKILL during `corpus import` ({rounds} rounds)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for rnd in range(rounds):
        big = home / f"kill{rnd}.txt"
        big.write_text(law_text(f"中华人民共和国断电测试{CJK[rnd]}法", 6000, rng), encoding="utf-8")
        cmd = [sys.executable, "-m", "assistant.cli", "--home", str(home), "corpus", "import", str(big), "--json"]
        if rnd == 0:  # calibration: how long a whole import takes; then import it back out of the way
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            full = time.perf_counter() - t0
            tally.outcomes["calibration import"] += 1
            continue
        delay = rng.uniform(0.2, full)
        child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(delay)
        finished = child.poll() is not None
        if not finished:
            os.kill(child.pid, signal.SIGKILL)
        _, err = child.communicate()
        with ArticleStore(home / "corpus.sqlite", readonly=True) as s:  # all of the law or none of it
            count_ok = s.law(f"中华人民共和国断电测试{CJK[rnd]}法") is None or \
                s.law(f"中华人民共和国断电测试{CJK[rnd]}法").articles == 6000
        ok = integrity(home / "corpus.sqlite") and count_ok
        tally.outcomes["finished" if finished else "killed"] += 1
        if not ok:
            tally.lost += 1
        if b"Traceback" in err and finished:
            tally.traceback(f"round {rnd}", err.decode(errors="replace")[-160:])
        tally.time(delay, 6000, f"round {rnd} {'finished' if finished else 'killed'}")
    return tally


def run_rebuild_kills(home: Path, rounds: int, seed: int) -> tuple[Tally, str]:
    tally = Tally(f"SIGKILL during index rebuilds ({rounds} rounds: before / at / after the swap)")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "kill_rebuild.py"), "--home", str(home),
                           "--rounds", str(rounds), "--embedder", "bm25-only", "--drop-vectors", "0",
                           "--seed", str(seed)], capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    out = proc.stdout
    for line in out.splitlines():
        m = re.match(r"\s*\d+\s+(before|swap|after)\s+[\d.]+s\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)", line)
        if m:
            phase, state, answers, store_ok, cache_ok = m.groups()
            tally.outcomes[f"{phase}: {state}"] += 1
            if not (answers == "True" and store_ok == "True" and cache_ok == "True"):
                tally.lost += 1
    if "Traceback" in proc.stderr:
        tally.traceback("kill_rebuild.py", proc.stderr[-200:])
    if proc.returncode not in (0, 1):
        tally.traceback("kill_rebuild.py", f"exit {proc.returncode}")
    calib = next((ln for ln in out.splitlines() if ln.startswith("calibration")), "")
    return tally, calib


# ---------------------------------------------------------------------------------------------------
# 6. linear growth
# ---------------------------------------------------------------------------------------------------
def run_growth(checker, resolver, url: str | None) -> list[dict]:
    import httpx

    from assistant.corpus.citations import find_citations, parse_reference

    cases = [
        ("find_citations", '"一"×n + "x"', lambda n: "一" * n + "x", lambda s: find_citations(s, resolver)),
        ("find_citations", '"1-"×n/2', lambda n: "1-" * (n // 2), lambda s: find_citations(s, resolver)),
        ("find_citations", '"民法典第1条至第30条，"×n/12 (all citations)', lambda n: "民法典第1条至第30条，" * (n // 12),
         lambda s: find_citations(s, resolver)),
        ("check", '"一"×n + "x"', lambda n: "一" * n + "x", lambda s: checker.check(s)),
        ("check", '"民法典第1079条规定夫妻感情破裂的准予离婚。"×n/22', lambda n: "民法典第1079条规定夫妻感情破裂的准予离婚。" * (n // 22),
         lambda s: checker.check(s)),
        ("parse_reference", '"一"×n + "x"', lambda n: "一" * n + "x", lambda s: _swallow(parse_reference, s, resolver)),
    ]
    rows = []
    for call, label, make, fn in cases:
        prev = None
        for n in (4_000, 8_000, 16_000, 32_000):
            s = make(n)
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                _swallow(fn, s)
                times.append(time.perf_counter() - t0)
            t = sorted(times)[2]
            rows.append({"call": call, "input": label, "chars": len(s), "median_s": round(t, 4),
                         "x_prev": round(t / prev, 2) if prev else None})
            prev = max(t, 1e-6)
    if url:
        for n in (1_000, 4_000, 100_000):
            t0 = time.perf_counter()
            r = httpx.post(url + "/chat/completions", json={"messages": [{"role": "user", "content": "一" * n + "x"}]},
                           timeout=120)
            rows.append({"call": f"API (HTTP {r.status_code})", "input": '"一"×n + "x" as the question', "chars": n + 1,
                         "median_s": round(time.perf_counter() - t0, 4), "x_prev": None})
    return rows


def _swallow(fn, *args):
    try:
        return fn(*args)
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------------
def prepare_home(src: Path | None, dst: Path) -> None:
    dst.mkdir(parents=True)
    if src and (src / "corpus.sqlite").exists():
        conn = sqlite3.connect(str(src / "corpus.sqlite"))
        conn.execute(f"VACUUM INTO '{dst / 'corpus.sqlite'}'")
        conn.close()
        if (src / "search").exists():
            shutil.copytree(src / "search", dst / "search")
        if (src / "vector_cache.sqlite").exists():
            conn = sqlite3.connect(str(src / "vector_cache.sqlite"))
            conn.execute(f"VACUUM INTO '{dst / 'vector_cache.sqlite'}'")
            conn.close()
        return
    from assistant.corpus import ArticleStore
    from assistant.corpus.default import read_default_corpus

    docs, _ = read_default_corpus()
    with ArticleStore(dst / "corpus.sqlite") as store:
        store.import_laws(docs)


def small_home(dst: Path) -> None:
    from assistant.corpus import ArticleStore
    from assistant.corpus.parse import parse_file

    dst.mkdir(parents=True)
    docs = []
    for path in sorted((ROOT / "tests" / "fixtures" / "corpus").iterdir()):
        docs += parse_file(path, status="已废止" if "repealed" in path.name else "现行有效").documents
    with ArticleStore(dst / "corpus.sqlite") as store:
        store.import_laws(docs)
    subprocess.run([sys.executable, "-m", "assistant.cli", "--home", str(dst), "index", "build", "--embedder",
                    "bm25-only", "--json"], check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", default=os.environ.get("ASSISTANT_HOME"), help="home to copy (store + index)")
    ap.add_argument("--files", type=int, default=320)
    ap.add_argument("--strings", type=int, default=1000)
    ap.add_argument("--gradio-strings", type=int, default=200, help="strings sent to each Gradio endpoint")
    ap.add_argument("--brute-force", type=int, default=60)
    ap.add_argument("--kills", type=int, default=6, help="SIGKILL rounds during imports")
    ap.add_argument("--rebuild-kills", type=int, default=6, help="SIGKILL rounds during rebuilds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write every row here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    for var in ("ASSISTANT_ADMIN_USER", "ASSISTANT_ADMIN_PASSWORD", "ASSISTANT_ADMIN_TOKEN", "ASSISTANT_ADMIN_OPEN"):
        os.environ.pop(var, None)  # the documented default: nothing configured
    from assistant.answer.api import BackgroundServer
    from assistant.answer.check import CitationChecker
    from assistant.answer.pipeline import build_assistant
    from assistant.corpus import ArticleStore
    from assistant.search import load_retriever
    from assistant.webui.config import WebConfig

    work = Path(tempfile.mkdtemp(prefix="probe_hostile_"))
    tallies: list[Tally] = []
    notes: list[str] = []
    try:
        home = work / "home"
        prepare_home(Path(args.home) if args.home else None, home)
        store = ArticleStore(home / "corpus.sqlite")
        print(f"# hostile probe — {store.count()} articles in {len(store.laws())} laws (copy in {work})")
        retriever = load_retriever(store=store, index_dir=home / "search", build_if_missing=True, progress=False,
                                   embedder=None if (home / "search").exists() else "bm25-only")
        assistant = build_assistant("extractive", store=store, retriever=retriever)
        checker = CitationChecker(store, retriever=retriever)
        assistant.ask("醉驾怎么处罚")  # warm-up

        # 6 first, on an idle process: the growth table
        api_server = BackgroundServer(assistant, log_level="critical")
        api_url = api_server.url
        growth = run_growth(checker, store.resolver(), api_url)

        strings = hostile_strings(args.strings, rng)
        tallies += run_library_strings(strings, checker, retriever, assistant)
        tallies.append(run_api_strings(strings, api_url, rng))
        api_server.stop()

        config = WebConfig()  # no admin variables: the one-time token
        app, gradio_url = start_gradio(assistant, store, config)
        law_file = work / "xingfa.txt"
        law_file.write_text("中华人民共和国刑法\n第一条　为了惩罚犯罪，制定本法。\n", encoding="utf-8")
        subset = strings[:: max(1, len(strings) // args.gradio_strings)][: args.gradio_strings]
        with captured_stderr() as server_log:
            tallies.append(run_anonymous_admin(app, gradio_url, store, law_file))
            tallies.append(run_gradio_strings(app, subset, gradio_url, config.admin_token))
            brute, note = run_brute_force(gradio_url, config.admin_token, args.brute_force)
        tallies.append(brute)
        server_log_tracebacks(server_log.getvalue(), tallies[-2])
        notes.append(f"login brute force: {note}")
        app.close()

        files = fuzz_files(args.files, rng)
        fuzz_dir = work / "fuzz"
        fuzz_dir.mkdir()
        tallies.insert(0, run_fuzz_imports(files, store, fuzz_dir))
        store.close()

        kill_home = work / "kill_home"
        small_home(kill_home)
        tallies.append(run_import_kills(kill_home, args.kills + 1, rng))
        rebuild, calib = run_rebuild_kills(kill_home, args.rebuild_kills, args.seed)
        tallies.append(rebuild)
        notes.append(f"rebuild kills: {calib}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print("\n## 6. worst-case time against input size (median of 5; × previous ≈ 2 per doubling is linear)\n")
    print("| call | input | chars | seconds | × previous |")
    print("|---|---|---|---|---|")
    for r in growth:
        print(f"| {r['call']} | {r['input']} | {r['chars']:,} | {r['median_s']} | {r['x_prev'] or ''} |")

    print("\n## summary\n")
    print("| class | cases | outcomes | tracebacks | data lost | anonymous admin actions | worst s (input chars) |")
    print("|---|---|---|---|---|---|---|")
    for t in tallies:
        r = t.row()
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(t.outcomes.items()) if k != "traceback")
        print(f"| {t.name} | {r['cases']} | {outcomes} | {r['tracebacks']} | {r['data_lost']} | "
              f"{r['anonymous_admin_actions']} | {r['worst_s']} ({r['worst_size']:,}) |")
    total = {k: sum(t.row()[k] for t in tallies) for k in ("tracebacks", "data_lost", "anonymous_admin_actions")}
    print(f"| **total** | {sum(t.row()['cases'] for t in tallies)} | | **{total['tracebacks']}** | "
          f"**{total['data_lost']}** | **{total['anonymous_admin_actions']}** | |")
    for n in notes:
        print(f"\n- {n}")
    problems = [p for t in tallies for p in t.tracebacks]
    infos = [p for t in tallies for p in t.info]
    if problems or infos:
        print("\n## details\n")
        for p in problems[:40]:
            print(f"- problem: {p}")
        for p in infos[:20]:
            print(f"- note: {p}")
    print(f"\nprobe finished in {time.perf_counter() - started:.0f}s")
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": [t.row() for t in tallies], "growth": growth,
                                               "notes": notes, "details": problems}, ensure_ascii=False, indent=1),
                                   encoding="utf-8")
    return 1 if any(total.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
