"""Render conversations in OpenAI's harmony format, and parse what the model wrote.

The prompt is built here, as text, rather than by a chat template, so that it
is byte-identical from day to day (no current date unless asked for) and so
that tests can pin it against the format's published examples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

START = "<|start|>"
END = "<|end|>"
MESSAGE = "<|message|>"
CHANNEL = "<|channel|>"
CONSTRAIN = "<|constrain|>"
RETURN = "<|return|>"
CALL = "<|call|>"
ENDOFTEXT = "<|endoftext|>"
#: the control tokens a gpt-oss vocabulary holds; their presence marks a harmony model
CONTROL_TOKENS = (START, END, MESSAGE, CHANNEL, CONSTRAIN, RETURN, CALL, ENDOFTEXT, "<|startoftext|>")
#: tokens after which generation stops
STOP_TOKENS = (RETURN, CALL)

MODEL_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
KNOWLEDGE_CUTOFF = "2024-06"
REASONING_EFFORTS = ("low", "medium", "high")
CHANNELS = ("analysis", "commentary", "final")
#: content types a call names without <|constrain|>: gpt-oss writes its python tool's calls as
#: ``<|channel|>analysis to=python code<|message|>``, and sees them again as it wrote them
BARE_CONTENT_TYPES = ("code",)


@dataclass(frozen=True)
class Message:
    """One harmony message. ``name`` is the author of a tool message (``functions.x``)."""

    role: str
    content: str
    channel: str | None = None
    recipient: str | None = None
    content_type: str | None = None
    name: str | None = None
    #: a server's id of the call this message makes or answers (never rendered in harmony)
    call_id: str | None = None


@dataclass(frozen=True)
class Tool:
    """A function tool, described by a JSON Schema for its single argument object."""

    name: str
    description: str
    parameters: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SystemConfig:
    reasoning: str = "medium"
    model_identity: str | None = MODEL_IDENTITY
    knowledge_cutoff: str | None = KNOWLEDGE_CUTOFF
    current_date: str | None = None
    channels: tuple[str, ...] = CHANNELS
    #: gpt-oss's own tools, as (name, instruction), described in the system message's ``# Tools``
    builtin_tools: tuple[tuple[str, str], ...] = ()


#: the python tool's instruction: the reference tool's words, for a fresh sandboxed run per call
PYTHON_TOOL = (
    "Use this tool to execute Python code in your chain of thought. The code will not be shown to the user. "
    "This tool should be used for internal reasoning, but not for code that is intended to be visible to the "
    "user (e.g. when creating plots, tables, or files).\n\n"
    "When you send a message containing Python code to python, it will be executed in a stateless sandbox, "
    "and the stdout of that process will be returned to you. You have to use print statements to access the "
    "output."
)


def render_system(config: SystemConfig, *, has_functions: bool = False) -> str:
    lines = [line for line in (config.model_identity,) if line]
    if config.knowledge_cutoff:
        lines.append(f"Knowledge cutoff: {config.knowledge_cutoff}")
    if config.current_date:
        lines.append(f"Current date: {config.current_date}")
    text = "\n".join(lines)
    if config.reasoning:
        text += f"\n\nReasoning: {config.reasoning}"
    if config.builtin_tools:
        text += "\n\n# Tools" + "".join(f"\n\n## {name}\n\n{instruction}" for name, instruction in config.builtin_tools)
    if config.channels:
        text += (
            f"\n\n# Valid channels: {', '.join(config.channels)}. "
            "Channel must be included for every message."
        )
        if has_functions:
            text += "\nCalls to these tools must go to the commentary channel: 'functions'."
    return _message("system", text.lstrip("\n"))


def render_developer(instructions: str | None, tools: Sequence[Tool] = ()) -> str:
    parts = []
    if instructions:
        parts.append(f"# Instructions\n\n{instructions}")
    if tools:
        parts.append("# Tools\n\n## functions\n\n" + _render_namespace("functions", tools))
    return _message("developer", "\n\n".join(parts))


def render_message(message: Message) -> str:
    header = message.name or message.role
    if message.recipient and message.role == "tool":
        header += f" to={message.recipient}"
    if message.channel:
        header += f"{CHANNEL}{message.channel}"
        if message.recipient and message.role != "tool":
            header += f" to={message.recipient}"
    if message.content_type in BARE_CONTENT_TYPES:
        header += f" {message.content_type}"
    elif message.content_type:
        header += f" {CONSTRAIN}{message.content_type}"
    # A tool call in history keeps its <|call|>; other messages end with <|end|>.
    closing = CALL if message.role == "assistant" and message.recipient else END
    return f"{START}{header}{MESSAGE}{message.content}{closing}"


def render_conversation(
    messages: Iterable[Message],
    system: SystemConfig = SystemConfig(),
    *,
    tools: Sequence[Tool] = (),
) -> str:
    """The prompt for the assistant's next turn, ending in ``<|start|>assistant``.

    System and developer messages among ``messages`` become the developer
    message's instructions; the system message proper carries the reasoning
    effort and the format's metadata.
    """
    instructions: list[str] = []
    turns: list[Message] = []
    for message in messages:
        if message.role in ("system", "developer"):
            instructions.append(message.content)
        else:
            turns.append(message)
    text = render_system(system, has_functions=bool(tools))
    if instructions or tools:
        text += render_developer("\n\n".join(instructions), tools)
    text += "".join(render_message(m) for m in turns)
    return text + f"{START}assistant"


def render_prompt(messages: Iterable[tuple[str, str]], reasoning: str) -> str:
    """The harmony prompt for a case's ``(role, content)`` messages at one reasoning effort."""
    return render_conversation([Message(role, content) for role, content in messages],
                               SystemConfig(reasoning=reasoning))


def _message(role: str, content: str) -> str:
    return f"{START}{role}{MESSAGE}{content}{END}"


def _render_namespace(namespace: str, tools: Sequence[Tool]) -> str:
    body = "".join(_render_tool(tool) for tool in tools)
    return f"namespace {namespace} {{\n\n{body}}} // namespace {namespace}"


def _render_tool(tool: Tool) -> str:
    text = f"// {tool.description}\n" if tool.description else ""
    properties = (tool.parameters or {}).get("properties") or {}
    if not properties:
        return text + f"type {tool.name} = () => any;\n\n"
    required = set((tool.parameters or {}).get("required", ()))
    fields = ""
    for name, schema in properties.items():
        if schema.get("description"):
            fields += f"// {schema['description']}\n"
        optional = "" if name in required else "?"
        fields += f"{name}{optional}: {_ts_type(schema)},"
        if "default" in schema:
            fields += f" // default: {schema['default']}"
        fields += "\n"
    return text + f"type {tool.name} = (_: {{\n{fields}}}) => any;\n\n"


def _ts_type(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return " | ".join(json.dumps(value, ensure_ascii=False) for value in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"{_ts_type(schema.get('items') or {})}[]"
    if kind == "integer":
        return "number"
    if kind == "object":
        return "object"
    return kind if isinstance(kind, str) else "any"


@dataclass(frozen=True)
class ToolCall:
    recipient: str
    content_type: str | None
    arguments: str
    channel: str | None = None


@dataclass(frozen=True)
class Parsed:
    """The channels of one completion, and how it ended.

    ``finish_reason`` is ``stop`` (``<|return|>``), ``tool_call`` (``<|call|>``)
    or ``length`` (the text ends inside a message: cut off by max_tokens).
    """

    messages: tuple[Message, ...]
    finish_reason: str
    analysis: str = ""
    commentary: str = ""
    final: str = ""
    has_final: bool = False
    tool_calls: tuple[ToolCall, ...] = field(default_factory=tuple)


def parse_completion(text: str) -> Parsed:
    """Parse the text generated after ``<|start|>assistant``.

    Never raises: noise (a random-weight model's output) still parses into
    whatever messages can be found, with ``finish_reason`` telling how it ended.
    """
    if not text.startswith(START):
        text = START + "assistant" + text
    messages: list[Message] = []
    finish_reason = "length"
    for chunk in text.split(START)[1:]:
        header, sep, rest = chunk.partition(MESSAGE)
        if not sep:
            finish_reason = "length"
            continue
        content, terminator = _until_terminator(rest)
        messages.append(_message_from_header(header, content))
        finish_reason = {RETURN: "stop", CALL: "tool_call", END: "end"}.get(terminator or "", "length")
        if terminator in STOP_TOKENS:
            break
    if text.endswith((RETURN, ENDOFTEXT)):
        finish_reason = "stop"
    elif text.endswith(CALL):
        finish_reason = "tool_call"
    elif finish_reason == "end":
        finish_reason = "length"
    return _collect(messages, finish_reason)


def _until_terminator(rest: str) -> tuple[str, str | None]:
    positions = [(rest.find(tok), tok) for tok in (END, RETURN, CALL) if tok in rest]
    if not positions:
        return rest, None
    index, token = min(positions)
    return rest[:index], token


def _message_from_header(header: str, content: str) -> Message:
    role_part, _, channel_part = header.partition(CHANNEL)
    content_type = None
    if CONSTRAIN in channel_part:
        channel_part, _, content_type = channel_part.partition(CONSTRAIN)
        content_type = content_type.strip() or None
    elif CONSTRAIN in role_part:
        role_part, _, content_type = role_part.partition(CONSTRAIN)
        content_type = content_type.strip() or None
    recipient = next(
        (w[3:] for w in (role_part + " " + channel_part).split() if w.startswith("to=")), None
    )
    role_words = [w for w in role_part.split() if not w.startswith("to=")]
    role = role_words[0] if role_words else "assistant"
    channel_words = [w for w in channel_part.split() if not w.startswith("to=")]
    channel = channel_words[0] if channel_words else None
    if content_type is None and recipient is not None:
        # a word after the channel's name that is no recipient: a content type given bare ("to=python code")
        bare = channel_words[1:] or role_words[1:]
        content_type = bare[-1] if bare else None
    return Message(
        role=role,
        content=content,
        channel=channel,
        recipient=recipient,
        content_type=content_type,
    )


def _collect(messages: list[Message], finish_reason: str) -> Parsed:
    analysis = [m.content for m in messages if m.channel == "analysis" and not m.recipient]
    commentary = [m.content for m in messages if m.channel == "commentary" and not m.recipient]
    finals = [m.content for m in messages if m.channel == "final"]
    calls = tuple(
        ToolCall(m.recipient, m.content_type, m.content, m.channel) for m in messages if m.recipient
    )
    return Parsed(
        messages=tuple(messages),
        finish_reason=finish_reason,
        analysis="\n\n".join(analysis),
        commentary="\n\n".join(commentary),
        final=finals[-1] if finals else "",
        has_final=bool(finals),
        tool_calls=calls,
    )
