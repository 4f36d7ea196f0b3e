"""Harmony rendering against the format's published examples, and parsing of completions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pytest_gptoss import harmony
from pytest_gptoss.harmony import Message, SystemConfig, Tool

# The harmony guide's function-calling example, after the tool call was handled.
SPEC_CONVERSATION = (
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\n"
    "Current date: 2025-06-28\n"
    "\n"
    "Reasoning: high\n"
    "\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
    "Calls to these tools must go to the commentary channel: 'functions'.<|end|>"
    "<|start|>developer<|message|># Instructions\n"
    "\n"
    "Use a friendly tone.\n"
    "\n"
    "# Tools\n"
    "\n"
    "## functions\n"
    "\n"
    "namespace functions {\n"
    "\n"
    "// Gets the location of the user.\n"
    "type get_location = () => any;\n"
    "\n"
    "// Gets the current weather in the provided location.\n"
    "type get_current_weather = (_: {\n"
    "// The city and state, e.g. San Francisco, CA\n"
    "location: string,\n"
    'format?: "celsius" | "fahrenheit", // default: celsius\n'
    "}) => any;\n"
    "\n"
    "// Gets the current weather in the provided list of locations.\n"
    "type get_multiple_weathers = (_: {\n"
    '// List of city and state, e.g. ["San Francisco, CA", "New York, NY"]\n'
    "locations: string[],\n"
    'format?: "celsius" | "fahrenheit", // default: celsius\n'
    "}) => any;\n"
    "\n"
    "} // namespace functions<|end|>"
    "<|start|>user<|message|>What is the weather like in SF?<|end|>"
    "<|start|>assistant<|channel|>analysis<|message|>Need to use function get_weather.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>"
    '{"location":"San Francisco"}<|call|>'
    "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>"
    '{"sunny": true, "temperature": 20}<|end|>'
    "<|start|>assistant"
)

WEATHER_FORMAT = {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"}
SPEC_TOOLS = (
    Tool("get_location", "Gets the location of the user."),
    Tool(
        "get_current_weather",
        "Gets the current weather in the provided location.",
        {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "format": WEATHER_FORMAT,
            },
            "required": ["location"],
        },
    ),
    Tool(
        "get_multiple_weathers",
        "Gets the current weather in the provided list of locations.",
        {
            "type": "object",
            "properties": {
                "locations": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": 'List of city and state, e.g. ["San Francisco, CA", "New York, NY"]',
                },
                "format": WEATHER_FORMAT,
            },
            "required": ["locations"],
        },
    ),
)


def test_renders_the_spec_example_byte_for_byte() -> None:
    messages = [
        Message("developer", "Use a friendly tone."),
        Message("user", "What is the weather like in SF?"),
        Message("assistant", "Need to use function get_weather.", channel="analysis"),
        Message(
            "assistant",
            '{"location":"San Francisco"}',
            channel="commentary",
            recipient="functions.get_weather",
            content_type="json",
        ),
        Message(
            "tool",
            '{"sunny": true, "temperature": 20}',
            channel="commentary",
            recipient="assistant",
            name="functions.get_weather",
        ),
    ]
    system = SystemConfig(reasoning="high", current_date="2025-06-28")
    assert harmony.render_conversation(messages, system, tools=SPEC_TOOLS) == SPEC_CONVERSATION


def test_plain_prompt_has_no_date_and_is_stable() -> None:
    prompt = harmony.render_conversation(
        [Message("system", "Answer in English."), Message("user", "2+2?")],
        SystemConfig(reasoning="low"),
    )
    assert prompt == (
        "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
        "Knowledge cutoff: 2024-06\n\nReasoning: low\n\n"
        "# Valid channels: analysis, commentary, final. Channel must be included for every message."
        "<|end|><|start|>developer<|message|># Instructions\n\nAnswer in English.<|end|>"
        "<|start|>user<|message|>2+2?<|end|><|start|>assistant"
    )
    assert "Current date" not in prompt


def test_parses_analysis_then_final() -> None:
    parsed = harmony.parse_completion(
        '<|channel|>analysis<|message|>User asks: "What is 2 + 2?" Simple arithmetic.<|end|>'
        "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>"
    )
    assert parsed.analysis == 'User asks: "What is 2 + 2?" Simple arithmetic.'
    assert parsed.final == "2 + 2 = 4."
    assert parsed.has_final
    assert parsed.finish_reason == "stop"


def test_parses_final_only() -> None:
    parsed = harmony.parse_completion("<|channel|>final<|message|>55<|return|>")
    assert (parsed.final, parsed.analysis, parsed.finish_reason) == ("55", "", "stop")


def test_truncated_before_any_final() -> None:
    parsed = harmony.parse_completion("<|channel|>analysis<|message|>Let me think about the bottles, 3 big")
    assert not parsed.has_final
    assert parsed.final == ""
    assert parsed.finish_reason == "length"
    assert parsed.analysis.startswith("Let me think")


def test_truncated_between_messages() -> None:
    parsed = harmony.parse_completion("<|channel|>analysis<|message|>done thinking<|end|><|start|>assistant")
    assert not parsed.has_final
    assert parsed.finish_reason == "length"


def test_parses_a_tool_call() -> None:
    parsed = harmony.parse_completion(
        "<|channel|>analysis<|message|>Need to use function get_weather.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"location":"San Francisco"}<|call|>'
    )
    assert parsed.finish_reason == "tool_call"
    assert not parsed.has_final
    assert len(parsed.tool_calls) == 1
    call = parsed.tool_calls[0]
    assert (call.recipient, call.content_type, call.arguments) == (
        "functions.get_weather", "json", '{"location":"San Francisco"}'
    )
    assert parsed.commentary == ""


def test_recipient_in_the_role_part_of_the_header() -> None:
    parsed = harmony.parse_completion(
        '<|start|>assistant to=functions.lookup<|channel|>commentary<|message|>{"q": 1}<|call|>'
    )
    assert parsed.tool_calls[0].recipient == "functions.lookup"
    assert parsed.messages[0].channel == "commentary"


def test_preamble_on_commentary_is_kept() -> None:
    parsed = harmony.parse_completion(
        "<|channel|>commentary<|message|>Plan: look it up.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>Done.<|return|>"
    )
    assert parsed.commentary == "Plan: look it up."
    assert parsed.final == "Done."


def test_the_last_final_message_is_the_answer() -> None:
    parsed = harmony.parse_completion(
        "<|channel|>final<|message|>draft<|end|><|start|>assistant<|channel|>final<|message|>answer<|return|>"
    )
    assert parsed.final == "answer"


TOKENS = st.sampled_from(list(harmony.CONTROL_TOKENS) + ["analysis", "final", "to=x", " ", "a", "\n"])


@given(st.lists(TOKENS, max_size=40).map("".join))
def test_parsing_never_raises_on_noise(text: str) -> None:
    parsed = harmony.parse_completion(text)
    assert parsed.finish_reason in ("stop", "tool_call", "length")
    assert parsed.has_final == any(m.channel == "final" for m in parsed.messages)


@given(st.text(alphabet=st.characters(blacklist_characters="<|"), max_size=200))
def test_any_final_text_round_trips(text: str) -> None:
    parsed = harmony.parse_completion(f"<|channel|>final<|message|>{text}<|return|>")
    assert parsed.final == text


def test_a_stop_token_after_noise_is_a_stop_not_a_cut_off() -> None:
    parsed = harmony.parse_completion("garbage without a header<|return|>")
    assert parsed.finish_reason == "stop"
    assert not parsed.has_final


# The harmony guide's python tool example (its system message). The guide writes "reasoning: high" there,
# lower case, where every other example and the reference renderer write "Reasoning: high".
DOC_PYTHON_INSTRUCTION = (
    "Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. This "
    "tool should be used for internal reasoning, but not for code that is intended to be visible to the user "
    "(e.g. when creating plots, tables, or files).\n\n"
    "When you send a message containing Python code to python, it will be executed in a stateful Jupyter notebook "
    "environment. python will respond with the output of the execution or time out after 120.0 seconds. The drive "
    "at '/mnt/data' can be used to save and persist user files. Internet access for this session is UNKNOWN. "
    "Depends on the cluster."
)
SPEC_PYTHON_SYSTEM = (
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\n"
    "Current date: 2025-06-28\n"
    "\n"
    "Reasoning: high\n"
    "\n"
    "# Tools\n"
    "\n"
    "## python\n"
    "\n"
    f"{DOC_PYTHON_INSTRUCTION}\n"
    "\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>"
)


def test_renders_the_python_tool_as_the_spec_example_does() -> None:
    system = SystemConfig(reasoning="high", current_date="2025-06-28",
                          builtin_tools=(("python", DOC_PYTHON_INSTRUCTION),))
    assert harmony.render_system(system) == SPEC_PYTHON_SYSTEM


def test_a_python_call_and_its_output_render_on_the_analysis_channel() -> None:
    messages = [
        Message("user", "7**23?"),
        Message("assistant", "print(7**23)", channel="analysis", recipient="python"),
        Message("tool", "27368747340080916343\n", channel="analysis", recipient="assistant", name="python"),
    ]
    prompt = harmony.render_conversation(messages, SystemConfig(builtin_tools=(("python", harmony.PYTHON_TOOL),)))
    assert prompt.endswith(
        "<|start|>user<|message|>7**23?<|end|>"
        "<|start|>assistant<|channel|>analysis to=python<|message|>print(7**23)<|call|>"
        "<|start|>python to=assistant<|channel|>analysis<|message|>27368747340080916343\n<|end|>"
        "<|start|>assistant"
    )
    assert "<|start|>developer" not in prompt  # the python tool lives in the system message


def test_a_python_call_as_gpt_oss_writes_it_keeps_its_bare_content_type_and_renders_back_the_same() -> None:
    written = "<|channel|>analysis to=python code<|message|>print(1)<|call|>"
    (made,) = harmony.parse_completion(written).tool_calls
    assert made == harmony.ToolCall("python", "code", "print(1)", "analysis")
    again = Message("assistant", made.arguments, channel=made.channel, recipient=made.recipient,
                    content_type=made.content_type)
    assert harmony.render_message(again) == "<|start|>assistant" + written
    # a function's JSON stays constrained, and a word in a message that is no call is no content type
    (function,) = harmony.parse_completion(
        "<|channel|>commentary to=functions.f <|constrain|>json<|message|>{}<|call|>").tool_calls
    assert function.content_type == "json"
    assert harmony.parse_completion("<|channel|>final extra<|message|>Hi<|return|>").final == "Hi"


def test_a_call_is_parsed_with_its_channel() -> None:
    parsed = harmony.parse_completion("<|channel|>analysis to=python<|message|>print(1)<|call|>")
    assert parsed.tool_calls == (harmony.ToolCall("python", None, "print(1)", "analysis"),)
