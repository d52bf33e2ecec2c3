"""The per-call options of a run (runtime/runoptions.py) and the schema validator's wording, on the binding and
the REST door: tags, queueRequest, rejectIfBusy in a body's `options`, `signal`, and the last-request attributes."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from api_support import DETR, PNG, busy_slot, ledger_rows, make_service, serve

from runtime.bindings.ai import AiBinding
from runtime.errors import BadInput
from runtime.runoptions import check_tags
from runtime.workers import InferenceUpstreamError
from runtime.workers.abort import AbortController, AbortSignal
from runtime.workers.errors import JsException


def run(binding, inputs, options=None):
    return asyncio.run(binding.run(DETR, inputs, options))


def failure(binding, inputs, options=None) -> str:
    with pytest.raises(InferenceUpstreamError) as info:
        run(binding, inputs, options)
    return str(info.value)


def test_unknown_and_missing_keys_are_worded_as_cloudflares_validator_words_them(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    assert failure(binding, {"image": list(PNG), "colour": 1, "size": 2}) == (
        "5006: Error: Additional or unevaluated properties '/colour, /size' at '/' not allowed"
    )
    assert binding.lastRequestHttpStatusCode == 400 and binding.lastRequestInternalStatusCode == 5006
    assert failure(binding, {"picture": list(PNG)}) == "5006: Error: required properties at '/' are 'image'"
    run(binding, {"image": list(PNG), "threshold": 0.9})  # a declared parameter is accepted
    assert binding.lastRequestHttpStatusCode == 200 and binding.lastRequestInternalStatusCode is None
    with serve(service) as base:
        answer = httpx.post(f"{base}/client/v4/accounts/a/ai/run/{DETR}", json={"image": list(PNG), "x": 1})
    assert answer.status_code == 400
    assert answer.json()["errors"] == [
        {"code": 5006, "message": "Error: Additional or unevaluated properties '/x' at '/' not allowed"}
    ]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["team:vision", "v1.2", "a/b@c-d"], ("team:vision", "v1.2", "a/b@c-d")),
        (["x", "y", "x", "y", "x", "z"], ("x", "y", "z")),  # duplicates removed before counting
        (["a", "b", "c", "d", "e", "a"], ("a", "b", "c", "d", "e")),  # five is allowed
        (["t" * 50], ("t" * 50,)),  # fifty characters is allowed
        ([], ()),
        (None, ()),
    ],
)
def test_tags_follow_cloudflares_rules(tags, expected):
    assert check_tags(tags) == expected


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        (["a", "b", "c", "d", "e", "f"], "at most 5 tags are allowed per request, got 6"),
        (["x" * 51], "longer than 50"),
        (["with space"], "may only contain"),
        (["semi;colon"], "may only contain"),
        ([""], "may only contain"),
        ("one-string", "must be a list"),
        ([7], "tags must be strings, found int"),
        ({"a": 1}, "tags must be a list of strings, not dict"),
        (5, "tags must be a list of strings, not int"),
    ],
)
def test_broken_tags_are_refused_with_the_rule_named(tags, words):
    with pytest.raises(Exception, match=words) as info:
        check_tags(tags)
    assert getattr(info.value, "code", None) == 5006


def test_tags_reach_the_ledger_row_and_bad_tags_cost_nothing(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    run(binding, {"image": list(PNG)}, {"tags": ["team:vision", "team:vision", "exp-7"]})
    message = failure(binding, {"image": list(PNG)}, {"tags": ["no spaces allowed"]})
    assert message.startswith("5006: AiError: Bad input: tag 'no spaces allowed' may only contain")
    rows = ledger_rows(service)
    assert json.loads(rows[0]["tags"]) == ["team:vision", "exp-7"] and rows[0]["outcome"] == "ok"
    assert rows[1]["outcome"] == "error:5006" and rows[1]["cost"] == "0" and rows[1]["tags"] is None
    service.close()


def test_rest_takes_tags_queue_request_and_body_options(tmp_path):
    service = make_service(tmp_path)
    url = f"/client/v4/accounts/a/ai/run/{DETR}"
    with serve(service) as base, httpx.Client(base_url=base, timeout=60) as http:
        tagged = http.post(f"{url}?tags=a&tags=b,c", content=PNG)
        in_body = http.post(url, json={"image": list(PNG), "options": {"tags": ["d"], "rejectIfBusy": True}})
        queued = http.post(f"{url}?queueRequest=true", content=PNG)
        bad_option = http.post(url, json={"image": list(PNG), "options": {"rejectIfBusy": "perhaps"}})
        with busy_slot(service):
            busy = http.post(url, json={"image": list(PNG), "options": {"rejectIfBusy": True}})
    assert tagged.status_code == 200 and in_body.status_code == 200
    assert in_body.json()["result"] == tagged.json()["result"]  # `options` is not taken for an input key
    assert queued.status_code == 400 and queued.json()["errors"][0]["code"] == 5006
    assert "Batch API" in queued.json()["errors"][0]["message"]
    assert bad_option.status_code == 400 and "rejectIfBusy must be true or false" in bad_option.text
    assert busy.status_code == 429 and busy.json()["errors"][0]["code"] == 3040
    rows = ledger_rows(service)
    assert [json.loads(r["tags"]) if r["tags"] else None for r in rows[:2]] == [["a", "b", "c"], ["d"]]
    assert [r["outcome"] for r in rows[2:]] == ["error:5006", "error:5006", "error:3040"]


def test_a_signal_aborted_before_the_call_sends_nothing(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")
    with pytest.raises(JsException) as info:
        run(binding, {"image": list(PNG)}, {"signal": AbortSignal.abort()})
    assert info.value.name == "AbortError" and str(info.value) == "AbortError: The operation was aborted."
    assert ledger_rows(service) == []
    with pytest.raises(TypeError, match="AbortSignal"):
        run(binding, {"image": list(PNG)}, {"signal": "soon"})
    service.close()


def test_a_signal_that_fires_during_the_call_ends_it_and_the_ledger_says_aborted(tmp_path):
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")

    async def aborted_by_controller() -> None:
        controller = AbortController.new()
        asyncio.get_running_loop().call_later(0.2, controller.abort)
        await binding.run(DETR, {"image": list(PNG)}, {"signal": controller.signal})

    with busy_slot(service):  # the call waits for a slot, so the signal fires first
        with pytest.raises(JsException) as by_timeout:
            run(binding, {"image": list(PNG)}, {"signal": AbortSignal.timeout(200)})
        with pytest.raises(JsException) as by_controller:
            asyncio.run(aborted_by_controller())
    assert str(by_timeout.value) == "TimeoutError: The operation was aborted due to timeout"
    assert by_controller.value.name == "AbortError"
    answered = run(binding, {"image": list(PNG)}, {"signal": AbortSignal.timeout(60_000)})  # in time: answered
    assert answered == run(binding, {"image": list(PNG)})
    rows = ledger_rows(service)
    assert [r["outcome"] for r in rows] == ["error:3008", "error:3008", "ok", "ok"]
    assert [r["cost"] for r in rows[:2]] == ["0", "0"]
    service.close()


def test_concurrent_requests_each_read_their_own_last_request_id(tmp_path):
    """env.AI is shared by every request of a Worker; lastRequestId is the current request's own call."""
    service = make_service(tmp_path)
    binding = AiBinding(service, "w")

    async def one_request(image: list[int]) -> tuple[str, str]:
        await binding.run(DETR, {"image": image})
        await asyncio.sleep(0.05)  # another request's call finishes meanwhile
        return binding.lastRequestId, binding.lastRequestId

    async def many() -> list[tuple[str, str]]:
        return await asyncio.gather(*(asyncio.create_task(one_request(list(PNG))) for _ in range(6)))

    seen = [first for first, again in asyncio.run(many())]
    assert len(set(seen)) == 6 and set(seen) == {r["request_id"] for r in ledger_rows(service)}
    service.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        ("true", True),
        ("1", True),
        ("yes", True),
        ("TRUE ", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("", False),
    ],
)
def test_boolean_options_read_json_and_query_text(value, expected):
    from runtime.runoptions import truthy

    assert truthy(value, "rejectIfBusy") is expected


@pytest.mark.parametrize("value", ["perhaps", 1, 0, 2.5, [], {}])
def test_other_boolean_option_values_are_refused(value):
    from runtime.runoptions import truthy

    with pytest.raises(Exception, match="rejectIfBusy must be true or false") as info:
        truthy(value, "rejectIfBusy")
    assert info.value.code == 5006


def test_rest_options_from_the_query_and_the_body():
    from runtime.runoptions import RunOptions

    query = {"rejectIfBusy": "true", "queueRequest": "0", "websocket": "false", "other": "x"}
    got = RunOptions.from_rest(query, ["a,b", "c"], None)
    assert got == RunOptions(tags=("a", "b", "c"), reject_if_busy=True, queue_request=False, websocket=False)
    over = RunOptions.from_rest({"rejectIfBusy": "true"}, ["a"], {"rejectIfBusy": False, "tags": ["z"]})
    assert over == RunOptions(tags=("z",), reject_if_busy=False)  # the body's options win
    assert RunOptions.from_rest({"websocket": "1"}, [], None).websocket is True
    for name in ("rejectIfBusy", "queueRequest", "websocket"):  # each refusal names its option
        with pytest.raises(Exception, match=f"^{name} must be true or false"):
            RunOptions.from_mapping({name: "maybe"})
    assert RunOptions.from_rest({"queueRequest": "true"}, [], None).queue_request is True
    assert RunOptions.from_mapping({"websocket": True, "queueRequest": False}) == RunOptions(websocket=True)
    with pytest.raises(Exception, match="options must be an object"):
        RunOptions.from_rest({}, [], ["not", "an", "object"])
    with pytest.raises(Exception, match="does not support websocket connections"):
        RunOptions(websocket=True).refuse_unsupported(DETR)
    with pytest.raises(Exception, match=f"{DETR} does not support asynchronous batch requests"):
        RunOptions(queue_request=True).refuse_unsupported(DETR)
    RunOptions(tags=("a",), reject_if_busy=True).refuse_unsupported(DETR)  # nothing to refuse


@pytest.mark.parametrize(("options", "kind"), [(5, "int"), ("tags", "str"), ([1], "list"), (True, "bool")])
def test_rest_body_options_must_be_an_object(options, kind):
    from runtime.runoptions import RunOptions

    with pytest.raises(BadInput) as info:
        RunOptions.from_rest({}, [], options)
    assert info.value.message == f"options must be an object, not {kind}"
