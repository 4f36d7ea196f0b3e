"""Tools through an OpenAI-compatible server: the tools and the exchange so far as each kind of server reads
them, the calls read back from each response shape, and a call answered and finished through the stand-ins."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import pytest
from openai_standin import FLAVOURS, Reply, StandIn

from pytest_gptoss import harmony, servers
from pytest_gptoss.backends import Generation, Request
from pytest_gptoss.backends.openai_server import ServerBackend, generation_from
from pytest_gptoss.harmony import Message, Tool

ADD = Tool("add", "Adds two numbers.", {"type": "object", "properties": {"a": {"type": "number"},
                                                                         "b": {"type": "number"}},
                                        "required": ["a", "b"]})
NOW = Tool("now", "The time where the user is.")
REQUEST = Request(case="sum", messages=(("developer", "Use the tools."), ("user", "What is 2 + 3?")),
                  reasoning="low", sample=0, seed=7, max_tokens=300, temperature=1.0, top_p=1.0)
CASE_MESSAGES = [{"role": "system", "content": "Use the tools."}, {"role": "user", "content": "What is 2 + 3?"}]
#: what each kind of server is given the reasoning back in, written out here rather than read from the module
REASONING_FIELDS = {"vllm": ("reasoning",), "llama.cpp": ("reasoning_content",), "ollama": ("reasoning",),
                    "lmstudio": ("reasoning_content", "reasoning"),
                    "openai-compatible": ("reasoning_content", "reasoning")}
KINDS = sorted(REASONING_FIELDS)


def backend(kind: str) -> ServerBackend:
    """A backend for a server of ``kind``; nothing is sent until a request is submitted."""
    return ServerBackend("served", servers.Server("http://127.0.0.1:9/v1", "gpt-oss-20b"), identity={"kind": kind},
                         parallel=1, timeout=5)


def call(arguments: str, name: str = "add", call_id: str | None = None) -> Message:
    return Message("assistant", arguments, channel="commentary", recipient=f"functions.{name}", content_type="json",
                   call_id=call_id)


def answer(result: str, name: str = "add", call_id: str | None = None) -> Message:
    return Message("tool", result, channel="commentary", recipient="assistant", name=f"functions.{name}",
                   call_id=call_id)


def thought(text: str) -> Message:
    return Message("assistant", text, channel="analysis")


def reasoning_fields(kind: str, text: str) -> dict[str, str]:
    return dict.fromkeys(REASONING_FIELDS[kind], text)


def response(message: dict[str, Any], finish: str = "tool_calls") -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-oss-20b",
            "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}],
            "usage": {"prompt_tokens": 80, "completion_tokens": 20, "total_tokens": 100}}


def read(message: dict[str, Any], finish: str = "tool_calls", request: Request = REQUEST) -> Generation:
    return generation_from(response(message, finish), request, "served", 0.5)


# --- what is sent ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_a_request_without_tools_is_the_body_it_always_was(kind: str) -> None:
    expected: dict[str, Any] = {"model": "gpt-oss-20b", "messages": CASE_MESSAGES, "reasoning_effort": "low",
                                "seed": 7, "temperature": 1.0, "top_p": 1.0, "max_tokens": 300}
    if kind == "llama.cpp":
        expected["chat_template_kwargs"] = {"reasoning_effort": "low"}
    body = backend(kind).body(REQUEST)
    assert body == expected
    assert list(body) == list(expected)  # the order prompt_text shows too


def test_the_case_functions_are_the_apis_tools() -> None:
    body = backend("vllm").body(dataclasses.replace(REQUEST, tools=(ADD, NOW)))
    assert body["tools"] == [
        {"type": "function", "function": {"name": "add", "description": "Adds two numbers.",
                                          "parameters": dict(ADD.parameters or {})}},
        # a function that takes nothing still gets a schema: some servers refuse a tool without one
        {"type": "function", "function": {"name": "now", "description": "The time where the user is.",
                                          "parameters": {"type": "object", "properties": {}}}},
    ]
    assert body["messages"] == CASE_MESSAGES


def test_the_python_tool_is_a_function_that_takes_code() -> None:
    python = {"type": "function", "function": {
        "name": "python", "description": harmony.PYTHON_TOOL,
        "parameters": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}}}
    alone = backend("ollama").body(dataclasses.replace(REQUEST, builtin_tools=("python",)))
    assert alone["tools"] == [python]
    both = backend("ollama").body(dataclasses.replace(REQUEST, tools=(ADD,), builtin_tools=("python",)))
    assert [tool["function"]["name"] for tool in both["tools"]] == ["add", "python"]
    assert both["tools"][1] == python


@pytest.mark.parametrize("kind", KINDS)
def test_one_call_is_an_assistant_message_with_its_reasoning_then_the_tools_answer(kind: str) -> None:
    history = (thought("I should add them."), call('{"a": 2, "b": 3}', call_id="call_x1"),
               answer('{"sum": 5}', call_id="call_x1"))
    body = backend(kind).body(dataclasses.replace(REQUEST, tools=(ADD,), history=history))
    assert body["messages"] == CASE_MESSAGES + [
        {"role": "assistant", "content": None, **reasoning_fields(kind, "I should add them."),
         "tool_calls": [{"id": "call_x1", "type": "function",
                         "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]},
        {"role": "tool", "tool_call_id": "call_x1", "name": "add", "content": '{"sum": 5}'},
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_two_calls_are_two_turns_in_order_ids_kept_and_made_where_absent(kind: str) -> None:
    history = (thought("First 2 + 3."), Message("assistant", "Adding.", channel="commentary"),
               call('{"a": 2, "b": 3}', call_id="call_x1"), answer('{"sum": 5}', call_id="call_x1"),
               thought("Then the time."), call("{}", name="now"), answer('"9:00"', name="now"))
    body = backend(kind).body(dataclasses.replace(REQUEST, tools=(ADD, NOW), history=history))
    first, first_answer, second, second_answer = body["messages"][2:]
    # the preamble is the message's content, except where llama-server's template refuses it beside the reasoning
    assert first == {"role": "assistant", "content": None if kind == "llama.cpp" else "Adding.",
                     **reasoning_fields(kind, "First 2 + 3."),
                     "tool_calls": [{"id": "call_x1", "type": "function",
                                     "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]}
    assert first_answer == {"role": "tool", "tool_call_id": "call_x1", "name": "add", "content": '{"sum": 5}'}
    # the second call had no id: it is named by its place among the calls, and its answer by the same name
    assert second == {"role": "assistant", "content": None, **reasoning_fields(kind, "Then the time."),
                      "tool_calls": [{"id": "call_1", "type": "function",
                                      "function": {"name": "now", "arguments": "{}"}}]}
    assert second_answer == {"role": "tool", "tool_call_id": "call_1", "name": "now", "content": '"9:00"'}


def test_calls_without_ids_are_matched_to_their_answers_by_name() -> None:
    # the in-process backend's history: two calls in one turn, answered in the other order, no ids anywhere
    history = (thought("Both at once."), call('{"a": 2, "b": 3}'), call("{}", name="now"),
               answer('"9:00"', name="now"), answer('{"sum": 5}'))
    messages = backend("vllm").body(dataclasses.replace(REQUEST, tools=(ADD, NOW), history=history))["messages"]
    (turn, *answers) = messages[2:]
    assert [(c["id"], c["function"]["name"]) for c in turn["tool_calls"]] == [("call_0", "add"), ("call_1", "now")]
    assert [(a["tool_call_id"], a["name"], a["content"]) for a in answers] == [
        ("call_1", "now", '"9:00"'), ("call_0", "add", '{"sum": 5}')]


def test_an_id_used_twice_is_made_unique() -> None:
    # a server that numbers its calls per response names the second generation's call the same as the first's
    history = (call('{"a": 2, "b": 3}', call_id="call_0"), answer("5", call_id="call_0"),
               call('{"a": 5, "b": 1}', call_id="call_0"), answer("6", call_id="call_0"))
    messages = backend("vllm").body(dataclasses.replace(REQUEST, tools=(ADD,), history=history))["messages"][2:]
    ids = [m["tool_calls"][0]["id"] if m["role"] == "assistant" else m["tool_call_id"] for m in messages]
    assert ids[0] == ids[1] == "call_0"
    assert ids[2] == ids[3] and ids[2] != "call_0"


def test_a_python_tool_call_is_a_call_of_the_function_python() -> None:
    code = 'print(sum([2, 3]), "é")'
    history = (thought("Let me run it."), Message("assistant", code, channel="analysis", recipient="python"),
               Message("tool", "5 é\n", channel="analysis", recipient="assistant", name="python"))
    messages = backend("ollama").body(dataclasses.replace(REQUEST, builtin_tools=("python",),
                                                          history=history))["messages"][2:]
    assert messages == [
        {"role": "assistant", "content": None, "reasoning": "Let me run it.",
         "tool_calls": [{"id": "call_0", "type": "function",
                         "function": {"name": "python", "arguments": json.dumps({"code": code}, ensure_ascii=False)}}]},
        {"role": "tool", "tool_call_id": "call_0", "name": "python", "content": "5 é\n"},
    ]
    assert json.loads(messages[0]["tool_calls"][0]["function"]["arguments"]) == {"code": code}


def test_the_prompt_shown_is_the_body_sent_with_the_exchange() -> None:
    served = backend("llama.cpp")
    request = dataclasses.replace(REQUEST, tools=(ADD,), history=(call('{"a": 2, "b": 3}', call_id="c1"),
                                                                  answer("5", call_id="c1")))
    head, _, shown = served.prompt_text(request).partition("\n")
    assert head == "POST http://127.0.0.1:9/v1/chat/completions"
    assert json.loads(shown) == served.body(request)
    assert json.loads(shown)["messages"][-1] == {"role": "tool", "tool_call_id": "c1", "name": "add", "content": "5"}


# --- what is read back ----------------------------------------------------------------------


def test_a_responses_calls_are_read_with_their_ids() -> None:
    generation = read({"content": None, "reasoning_content": "I should add.", "tool_calls": [
        {"id": "call_x1", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
        {"id": "call_x2", "type": "function", "function": {"name": "now", "arguments": "{}"}}]})
    assert generation.tool_calls == [
        {"recipient": "functions.add", "arguments": '{"a": 2, "b": 3}', "content_type": "json",
         "channel": "commentary", "id": "call_x1"},
        {"recipient": "functions.now", "arguments": "{}", "content_type": "json", "channel": "commentary",
         "id": "call_x2"},
    ]
    assert (generation.finish_reason, generation.analysis) == ("tool_call", "I should add.")
    assert (generation.final, generation.has_final) == ("", False)


def test_arguments_sent_as_an_object_are_read_as_json_text() -> None:
    arguments = {"city": "Zürich", "days": [1, 2]}
    (found,) = read({"content": "", "tool_calls": [
        {"id": "call_1", "function": {"name": "weather", "arguments": arguments}}]}).tool_calls
    assert isinstance(found["arguments"], str) and json.loads(found["arguments"]) == arguments
    assert found["recipient"] == "functions.weather"


@pytest.mark.parametrize(("arguments", "code"), [
    ('{"code": "print(2 + 3)"}', "print(2 + 3)"),
    ({"code": "print(2 + 3)"}, "print(2 + 3)"),
    ("print(2 + 3)", "print(2 + 3)"),  # the code written bare, as gpt-oss writes to its python tool
])
def test_a_call_of_the_function_python_is_a_python_tool_call(arguments: Any, code: str) -> None:
    request = dataclasses.replace(REQUEST, builtin_tools=("python",))
    (found,) = read({"content": None, "tool_calls": [
        {"id": "call_p", "function": {"name": "python", "arguments": arguments}}]}, request=request).tool_calls
    assert found == {"recipient": "python", "arguments": code, "content_type": None, "channel": "analysis",
                     "id": "call_p"}


def test_a_case_function_named_python_stays_a_function() -> None:
    own = Tool("python", "The case's own function.", {"type": "object", "properties": {"code": {"type": "string"}}})
    (found,) = read({"content": None, "tool_calls": [
        {"id": "call_p", "function": {"name": "python", "arguments": '{"code": "1"}'}}]},
        request=dataclasses.replace(REQUEST, tools=(own,))).tool_calls
    assert (found["recipient"], found["arguments"], found["content_type"]) == ("functions.python", '{"code": "1"}',
                                                                                 "json")


@pytest.mark.parametrize("given", [{}, {"id": ""}, {"id": None}])
def test_a_call_the_server_did_not_name_has_no_id(given: dict[str, Any]) -> None:
    (found,) = read({"content": None, "tool_calls": [
        {**given, "type": "function", "function": {"name": "add", "arguments": "{}"}}]}).tool_calls
    assert "id" not in found and found["recipient"] == "functions.add"


def test_calls_with_finish_stop_are_a_tool_call_and_their_content_the_preamble() -> None:
    generation = read({"content": "Let me add those.", "tool_calls": [
        {"id": "call_1", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]}, finish="stop")
    assert generation.finish_reason == "tool_call"
    assert (generation.final, generation.has_final, generation.commentary) == ("", False, "Let me add those.")
    # without calls, "stop" and the content are still the final answer
    plain = read({"content": "5"}, finish="stop")
    assert (plain.finish_reason, plain.final, plain.tool_calls) == ("stop", "5", [])


@pytest.mark.parametrize("end", ["<|call|>", ""])  # the stop token kept in the content, or not
@pytest.mark.parametrize("channel", ["commentary", "analysis"])  # a call is kept in the channel it was written in
def test_harmony_text_passed_through_is_read_for_its_calls(end: str, channel: str) -> None:
    text = ("<|channel|>analysis<|message|>I need the sum.<|end|>"
            f"<|start|>assistant<|channel|>{channel} to=functions.add <|constrain|>json<|message|>"
            '{"a": 2, "b": 3}' + end)
    generation = read({"content": text}, finish="stop")
    assert generation.tool_calls == [{"recipient": "functions.add", "arguments": '{"a": 2, "b": 3}',
                                      "content_type": "json", "channel": channel}]
    assert (generation.finish_reason, generation.analysis, generation.final) == ("tool_call", "I need the sum.", "")


def test_harmony_text_passed_through_is_read_for_python_calls() -> None:
    text = ("<|channel|>analysis<|message|>Run it.<|end|>"
            "<|start|>assistant<|channel|>analysis to=python code<|message|>print(2 + 3)<|call|>")
    generation = read({"content": text}, finish="stop", request=dataclasses.replace(REQUEST, builtin_tools=("python",)))
    assert generation.tool_calls == [{"recipient": "python", "arguments": "print(2 + 3)", "content_type": None,
                                      "channel": "analysis"}]
    assert generation.finish_reason == "tool_call"


# --- a round trip through each server ---------------------------------------------------------


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_a_call_answered_and_then_a_final_answer_through_each_server(
    standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    for name in ("GPTOSS_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    def reply(body: dict[str, Any]) -> Reply:
        if any(message["role"] == "tool" for message in body["messages"]):
            return Reply(content="2 + 3 = 5.", reasoning="The tool said 5.")
        return Reply(content=None, reasoning="I should add them.",
                     tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_7f3a"}])

    server = standin(flavour=flavour, answer=reply)
    where = servers.Server(server.url, server.model)
    identity = servers.identity(where)
    served = ServerBackend("served", where, identity=identity, parallel=1, timeout=10)
    try:
        first = dataclasses.replace(REQUEST, tools=(ADD,))
        (made,) = served.submit([first])
        called = made.result(timeout=10)
        assert called is not None and called.finish_reason == "tool_call" and not called.has_final
        (the_call,) = called.tool_calls
        assert the_call == {"recipient": "functions.add", "arguments": '{"a": 2, "b": 3}', "content_type": "json",
                            "channel": "commentary", "id": "call_7f3a"}
        # the loop's part, done by hand: what the model said, its call, the tool's answer
        history = ((thought(called.analysis),) if called.analysis else ()) + (
            call(the_call["arguments"], call_id=the_call["id"]), answer('{"sum": 5}', call_id=the_call["id"]))
        (made,) = served.submit([dataclasses.replace(first, history=history)])
        finished = made.result(timeout=10)
    finally:
        served.close()
    assert finished is not None
    assert (finished.final, finished.finish_reason, finished.tool_calls) == ("2 + 3 = 5.", "stop", [])
    asked, told = server.requests
    assert asked["messages"] == CASE_MESSAGES and asked["tools"] == told["tools"] == [
        {"type": "function", "function": {"name": "add", "description": "Adds two numbers.",
                                          "parameters": dict(ADD.parameters or {})}}]
    reasoning = reasoning_fields(identity["kind"], "I should add them.") if FLAVOURS[flavour][1] else {}
    assert told["messages"] == CASE_MESSAGES + [
        {"role": "assistant", "content": None, **reasoning,
         "tool_calls": [{"id": "call_7f3a", "type": "function",
                         "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}]},
        {"role": "tool", "tool_call_id": "call_7f3a", "name": "add", "content": '{"sum": 5}'},
    ]


# --- a case with tools, run by the plugin against a server -------------------------------------------------

CASE_WITH_TOOLS = """\
cases:
  - id: add
    prompt: What is 2 + 3? Use add.
    tools:
      - name: add
        description: Adds two numbers.
        parameters:
          type: object
          properties: {a: {type: number}, b: {type: number}}
          required: [a, b]
        python: 'return {"sum": a + b}'
    check:
      - numeric: 5
      - tool_calls:
          calls: [{name: add, arguments: {a: 2, b: 3}}]
          before_final: true
"""


def test_a_case_with_tools_runs_its_loop_through_a_server(
    pytester: pytest.Pytester, standin: Callable[..., StandIn], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GPTOSS_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)

    def reply(body: dict[str, Any]) -> Reply:
        answered = [message for message in body["messages"] if message["role"] == "tool"]
        if answered:
            total = json.loads(answered[-1]["content"])["sum"]
            return Reply(content=f"2 + 3 = \\boxed{{{total}}}", reasoning="The tool said so.")
        return Reply(content=None, reasoning="Use add.",
                     tool_calls=[{"name": "add", "arguments": {"a": 2, "b": 3}, "id": "call_1"}])

    server = standin(flavour="vllm", answer=reply)
    pytester.makefile(".yaml", **{"cases/c": CASE_WITH_TOOLS})
    result = pytester.runpytest(f"--gptoss-model={server.url}", "--gptoss-record=t.jsonl", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    first, second = server.requests
    assert [tool["function"]["name"] for tool in first["tools"]] == ["add"]
    assert second["messages"][-1] == {"role": "tool", "tool_call_id": "call_1", "name": "add",
                                      "content": '{"sum": 5}'}
    (line,) = [json.loads(text) for text in (pytester.path / "t.jsonl").read_text().splitlines()]
    assert [(call["recipient"], call["result"]) for call in line["tool_calls"]] == [("functions.add", '{"sum": 5}')]
    assert [g["finish_reason"] for g in line["generations"]] == ["tool_call", "stop"]
