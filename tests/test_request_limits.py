"""One validator, one set of limits: the web app (chat tab, /chat and /ask) and the OpenAI-style API accept
and refuse the same questions and options (assistant.answer.limits)."""
from __future__ import annotations

import pytest

from assistant.answer.api import parse_request
from assistant.answer.limits import MAX_QUESTION_CHARS, RANGES, OptionError
from assistant.webui.config import WebConfig
from assistant.webui.state import AppState


@pytest.fixture
def web(fixture_store):
    return AppState.create(None, fixture_store, WebConfig(admin_open=True))


def _api(question, **options):
    return parse_request({"messages": [{"role": "user", "content": question}], **options})


def test_the_longest_question_is_the_same_for_the_web_app_and_the_api(web):
    longest = "问" * MAX_QUESTION_CHARS
    assert web.check_request(longest)[0] == _api(longest)[0] == longest
    for refuse in (lambda q: web.check_request(q), _api):
        with pytest.raises(OptionError, match=f"at most {MAX_QUESTION_CHARS}") as err:
            refuse(longest + "问")
        assert f"请控制在 {MAX_QUESTION_CHARS} 字以内" in err.value.zh
    with pytest.raises(OptionError, match="empty question") as err:
        web.check_request("   ")
    assert err.value.zh == "请输入问题。"


def test_options_are_checked_and_clamped_alike(web):
    top = RANGES["top_k"][1]
    assert web.check_request("醉驾", top_k=10**9)[2]["top_k"] == _api("醉驾", top_k=10**9)[2]["top_k"] == top
    assert web.check_request("醉驾", temperature=9.0)[2]["temperature"] == 2.0 == _api("醉驾", temperature=9)[2][
        "temperature"]
    with pytest.raises(OptionError) as web_err:
        web.check_request("醉驾", top_k="abc")
    with pytest.raises(OptionError) as api_err:
        _api("醉驾", top_k="abc")
    assert web_err.value.field == api_err.value.field == "top_k" and "top_k 必须是整数" in web_err.value.zh
    with pytest.raises(OptionError, match="max_tokens: must be an integer"):
        _api("醉驾", max_tokens=1.5)
    # the web app resolves the law against its store (a short name becomes the full one; an unknown one is
    # refused before any work)
    assert web.check_request("醉驾", law="刑法")[2]["law"] == "中华人民共和国刑法"
    with pytest.raises(OptionError) as err:
        web.check_request("醉驾", law="火星法")
    assert err.value.field == "law" and "没有名为“火星法”" in err.value.zh
