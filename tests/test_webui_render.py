"""Web app rendering and statute-upload handling, without a server: escaping, markers, badges, highlights,
export, upload checks and previews over the fixture store."""
from __future__ import annotations

import json
import re

import pytest

from assistant.answer.check import CitationChecker
from assistant.answer.types import Answer
from assistant.search.types import Hit
from assistant.webui import render
from assistant.webui.export import conversation_dict, conversation_markdown
from assistant.webui.render import Turn
from assistant.webui.statutes import (UploadError, check_uploads, display_name, lookup_citation, parse_uploads,
                                      preview_html)

DRUNK = "中华人民共和国刑法#133之一"
EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'


def _answer(store, text: str, hit_ids: list[str], question: str = "醉驾怎么处罚？") -> Answer:
    arts = store.get_many(hit_ids)
    hits = [Hit(arts[i], 1.0 / n, n, "bm25", [0]) for n, i in enumerate(hit_ids, 1)]
    checks = CitationChecker(store).check(text, context_ids=hit_ids)
    return Answer(question=question, text=text, sources=hits, citations=checks, backend="extractive",
                  notice="未配置生成式模型", latency_ms=12.0)


def test_escape_never_passes_markup_through():
    out = render.answer_text_html(EVIL + " [1]", (), turn=0, n_sources=1)
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in out and "onerror=&quot;" in out
    assert 'class="marker"' in out  # our own markup still there


def test_markers_link_only_to_existing_sources():
    out = render.answer_text_html("见[1]和[2]，另见[7]。", (), turn=3, n_sources=2)
    assert re.findall(r'href="#src-3-(\d)"', out) == ["1", "2"]
    assert "[7]" in out and 'data-n="7"' not in out


def test_citation_badges_carry_verdict_and_reason(fixture_store):
    text = "依据《中华人民共和国刑法》第一百三十三条之一[1]，醉驾处拘役。另见刑法第九百九十九条。"
    ans = _answer(fixture_store, text, [DRUNK])
    verdicts = {c.citation.span: c.verdict for c in ans.citations}
    assert "verified" in verdicts.values() and "not_found" in verdicts.values()
    out = render.answer_text_html(ans.text, ans.citations, turn=0, n_sources=1)
    ok = re.search(r'<span class="cite v-verified" title="([^"]+)" data-verdict="verified" data-badge="verified">'
                   r'([^<]+)<', out)
    assert ok and "第一百三十三条之一" in ok.group(2)
    # the tooltip says, in Chinese, each of the four checks
    assert "条文存在✓" in ok.group(1) and "在检索来源中✓" in ok.group(1) and "与句子相符✓" in ok.group(1)
    bad = re.search(r'<span class="cite v-notfound" title="([^"]+)"', out)
    assert bad and "法条库中没有这一条" in bad.group(1) and "条文存在✗" in bad.group(1)
    report = render.citation_report_html(ans.citations)
    assert "条文不存在" in report and "已核实" in report and "supported" not in report


def test_verified_badge_needs_the_sentence_to_match(fixture_store):
    # an existing, in-force, in-context article cited for something it does not say is not "已核实"
    ans = _answer(fixture_store, "根据《中华人民共和国刑法》第一百三十三条之一[1]，房屋租赁合同的租期最长为二十年。", [DRUNK])
    [c] = ans.citations
    assert c.verdict == "verified" and c.support_label != "supported"
    out = render.answer_text_html(ans.text, ans.citations, turn=0, n_sources=1)
    assert 'data-badge="verified"' not in out and ("内容不符" in out or "部分相符" in out)


def test_source_card_shows_law_headings_status_and_highlights(fixture_store):
    art = fixture_store.get(DRUNK)
    hit = Hit(art, 0.9, 1, "both", matched_paragraphs=[1])
    html_ = render.sources_html([hit], turn=0)
    assert 'id="src-0-1"' in html_ and "《刑法》" in html_ and art.number_text in html_
    assert "第二章 危害公共安全罪" in html_ and "现行有效" in html_ and "关键词 + 语义检索" in html_
    paras = re.findall(r'<p class="(para[^"]*)">', html_)
    assert paras == ["para", "para marked"]  # only the matched 款
    # a citation naming 第一款第（二）项 highlights that 项
    ans = _answer(fixture_store, "《中华人民共和国刑法》第一百三十三条之一第一款第（二）项[1]", [DRUNK])
    html_ = render.sources_html(ans.sources[:1] and [Hit(art, 1, 1, "citation", [])], turn=0, checks=ans.citations)
    assert re.search(r'<span class="item marked">（二）醉酒驾驶机动车的；</span>', html_)


def test_status_badges_for_repealed_and_amended():
    assert "s-repealed" in render.status_badge("已废止") and "已废止" in render.status_badge("已废止")
    # an amended law in force reads as current law, with its last amendment, not as a warning
    amended = render.status_badge("已被修改", "2020-12-26")
    assert "现行有效（2020-12-26 修改）" in amended and "s-current" in amended and "已修改" not in amended
    assert "s-unknown" in render.status_badge("某种状态")


def test_turn_states_and_notice(fixture_store):
    streaming = Turn("醉驾怎么处罚？", text="依据", hits=[])
    assert 'data-state="streaming"' in render.turn_html(streaming, 0) and "cursor" in render.turn_html(streaming, 0)
    ans = _answer(fixture_store, "依据《中华人民共和国刑法》第一百三十三条之一[1]。", [DRUNK])
    done = Turn(ans.question, text=ans.text, hits=ans.sources, answer=ans)
    out = render.turn_html(done, 0)
    assert 'data-state="done"' in out and "未配置生成式模型" in out and "引用核查" in out
    assert "extractive" not in render.banner_html({"backend": "transformers", "model": "m"})
    assert "摘录模式" in render.banner_html({"backend": "extractive"})
    panel = render.source_panel_html([done, done])
    assert panel.count('class="source-group"') == 2 and panel.count(" hidden") == 1


def test_export_markdown_and_json_carry_sources_and_report(fixture_store):
    ans = _answer(fixture_store, "依据《中华人民共和国刑法》第一百三十三条之一[1]，另见刑法第九百九十九条。", [DRUNK])
    turns = [Turn(ans.question, text=ans.text, hits=ans.sources, answer=ans)]
    md = conversation_markdown(turns, {"backend": "extractive"})
    assert "## 第 1 问" in md and "### 来源" in md and "**[1] 《中华人民共和国刑法》第一百三十三条之一**" in md
    assert "| 引用 | 结论 | 说明 |" in md and "条文不存在" in md
    # the export words a citation as the chat badge does: a bare 依据 sentence is no full match, never 已核实
    assert "| 已核实 |" not in md and "与句子相符" in md and "supported" not in md
    data = json.loads(json.dumps(conversation_dict(turns, {"backend": "extractive"}), ensure_ascii=False))
    turn = data["turns"][0]
    assert turn["sources"][0]["id"] == DRUNK and turn["sources"][0]["marker"] == 1
    assert [c["verdict"] for c in turn["citations"]] == ["verified", "not_found"]


# -- uploads ------------------------------------------------------------------------------------------------
def test_display_name_drops_client_paths():
    assert display_name("../../etc/passwd.txt") == "passwd.txt"
    assert display_name("C:\\Users\\x\\法规.docx") == "法规.docx"
    assert display_name("a\x00b\n.txt") == "ab.txt"


def test_check_uploads_refuses_types_sizes_and_foreign_paths(tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    good = root / "法.txt"
    good.write_text("某法\n\n第一条　内容。\n", encoding="utf-8")
    html_file = root / "page.html"
    html_file.write_text("<script></script>")
    big = root / "big.md"
    big.write_bytes(b"x" * 2048)
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    assert [u.name for u in check_uploads([str(good)], 1024, root)] == ["法.txt"]
    with pytest.raises(UploadError) as err:
        check_uploads([str(good), str(html_file), str(big), str(outside)], 1024, root)
    msg = str(err.value)
    assert "page.html" in msg and "不支持的文件类型 .html" in msg
    assert "big.md" in msg and "超过上限" in msg
    assert "secret.txt" in msg and "不是通过本页面上传的文件" in msg
    with pytest.raises(UploadError):
        check_uploads([], 1024, root)


def test_preview_reports_counts_diff_warnings_and_errors(tmp_path, fixture_store):
    new = tmp_path / "new.txt"
    new.write_text("中华人民共和国示例管理法\n\n第一条　为了" + EVIL + "，制定本法。\n\n第三条　跳过了第二条。\n",
                   encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"law": "某法", "number": 1, "text": "好"}\n{not json}\n', encoding="utf-8")
    from assistant.webui.statutes import Upload

    ups = [Upload(new, "new.txt", new.stat().st_size)]
    preview = parse_uploads(ups, fixture_store)
    assert preview.ok and preview.rows[0]["law"] == "中华人民共和国示例管理法"
    assert preview.rows[0]["articles"] == 2 and preview.rows[0]["added"] == 2 and preview.rows[0]["new_law"]
    assert preview.rows[0]["warnings"], "the numbering gap (第二条 missing) is a warning"
    out = preview_html(preview)
    assert "<script" not in out and "+2" in out
    preview = parse_uploads(ups + [Upload(bad, "bad.jsonl", bad.stat().st_size)], fixture_store)
    assert not preview.ok and "bad.jsonl:2" in preview.errors[0]
    assert "未导入任何内容" in preview_html(preview)


def test_preview_reads_uploads_as_the_collection_importer_does(tmp_path, fixture_store):
    from assistant.webui.statutes import Upload

    two = tmp_path / "示例收费条例.md"  # one file, two versions of a law: both go in, oldest first
    two.write_text("# 示例收费条例\n\n2001年5月1日 国务院公布\n\n<!-- INFO END -->\n\n"
                   "第一条 收费标准由省级人民政府确定。\n\n第二条 本条例自公布之日起施行。\n\n"
                   "## 2019年修订文本\n\n第一条 收费标准由省级人民政府价格主管部门确定并公布。\n\n"
                   "第二条 本条例自2019年3月1日起施行。\n", encoding="utf-8")
    preview = parse_uploads([Upload(two, two.name, two.stat().st_size)], fixture_store)
    assert preview.ok and [r["law"] for r in preview.rows] == ["示例收费条例", "示例收费条例"]
    toc = tmp_path / "示例条例目录.md"
    toc.write_text("# 示例条例目录\n\n## 目录\n\n第一章 总则\n\n第二章 附则\n", encoding="utf-8")
    preview = parse_uploads([Upload(toc, toc.name, toc.stat().st_size)], fixture_store)
    assert not preview.ok and preview.errors[0].startswith("示例条例目录.md: 未导入")
    assert "无法读取" not in preview.errors[0]


def test_lookup_shows_the_cited_articles_or_says_why_not(fixture_store):
    out = lookup_citation(fixture_store, "刑法133条之一")
    assert "第一百三十三条之一" in out and "醉酒驾驶机动车" in out
    assert "没有第九百九十九条" in lookup_citation(fixture_store, "刑法第999条")
    assert "无法识别" in lookup_citation(fixture_store, "随便什么")
    both = lookup_citation(fixture_store, "民法典第1076条、第1079条")
    assert both.count('class="source-card"') == 2


def test_uncited_sources_are_labelled_as_search_results_only(fixture_store):
    ans = _answer(fixture_store, "现有法条库中没有找到可适用于该问题的条文。", [DRUNK], question="外星人赔偿")
    assert not ans.citations
    panel = render.source_panel_html([Turn(ans.question, text=ans.text, hits=ans.sources, answer=ans)])
    assert "回答没有引用下列任何条文" in panel and 'id="src-0-1"' in panel


def test_progress_stages_and_the_extractive_notice_shown_once(fixture_store):
    from assistant.answer.backends.extractive import NOTICE

    turn = Turn("醉驾怎么处罚？")
    assert 'data-stage="0"' in render.turn_html(turn, 0) and "正在检索相关条文" in render.turn_html(turn, 0)
    ans = _answer(fixture_store, "依据《中华人民共和国刑法》第一百三十三条之一[1]。", [DRUNK])
    turn.hits = ans.sources
    reading = render.turn_html(turn, 0)
    assert 'data-stage="1"' in reading and "正在阅读 1 条相关条文" in reading
    turn.text = "依据"
    assert 'data-stage="2"' in render.turn_html(turn, 0) and "正在撰写回答" in render.turn_html(turn, 0)
    # the page banner says "no generative model" once; each answer does not repeat it
    ans.notice = NOTICE
    done = render.turn_html(Turn(ans.question, text=ans.text, hits=ans.sources, answer=ans), 0)
    assert NOTICE not in done and "data-stage" not in done
    assert "摘录模式" in render.banner_html({"backend": "extractive"})
