"""The built-in lexer: a port of mermaid 11's flowchart lexer, rule for rule (its rules, states and their order).

:func:`tokenize` reads what :func:`.source.prepare` makes of a diagram, as
mermaid's jison lexer does: in the current state the first rule that matches
wins, and a rule may push or pop a state.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


_W = r"(?![A-Za-z0-9_])"  # JavaScript's \b after a word character
# index: (pattern, token, action); action is None, "pop", "push:STATE", "graph" or "pop,push:STATE"
_RULES: dict[int, tuple[str, str | None, str | None]] = {
    0: (r"accTitle\s*:\s*", "acc_title", "push:acc_title"),
    1: (r"[^\n]*", "acc_title_value", "pop"),
    2: (r"accDescr\s*:\s*", "acc_descr", "push:acc_descr"),
    3: (r"[^\n]*", "acc_descr_value", "pop"),
    4: (r"accDescr\s*\{\s*", None, "push:acc_descr_multiline"),
    5: (r"[\}]", None, "pop"),
    6: (r"[^\}]*", "acc_descr_multiline_value", None),
    7: (r"@\{", "SHAPE_DATA", "push:shapeData"),
    8: (r'["]', "SHAPE_DATA", "push:shapeDataStr"),
    9: (r'["]', "SHAPE_DATA", "pop"),
    10: (r'[^"]+', "SHAPE_DATA", None),
    11: (r'[^}^"]+', "SHAPE_DATA", None),
    12: (r"\}", None, "pop"),
    13: (r"call[\s]+", None, "push:callbackname"),
    14: (r"\([\s]*\)", None, "pop"),
    15: (r"\(", None, "pop,push:callbackargs"),
    16: (r"[^(]*", "CALLBACKNAME", None),
    17: (r"\)", None, "pop"),
    18: (r"[^)]*", "CALLBACKARGS", None),
    19: (r'[^`"]+', "MD_STR", None),
    20: (r'[`]["]', None, "pop"),
    21: (r'["][`]', None, "push:md_string"),
    22: (r'[^"]+', "STR", None),
    23: (r'["]', None, "pop"),
    24: (r'["]', None, "push:string"),
    25: (rf"style{_W}", "STYLE", None),
    26: (rf"default{_W}", "DEFAULT", None),
    27: (rf"linkStyle{_W}", "LINKSTYLE", None),
    28: (rf"interpolate{_W}", "INTERPOLATE", None),
    29: (rf"classDef{_W}", "CLASSDEF", None),
    30: (rf"class{_W}", "CLASS", None),
    31: (r"href[\s]", "HREF", None),
    32: (r"click[\s]+", None, "push:click"),
    33: (r"[\s\n]", None, "pop"),
    34: (r"[^\s\n]*", "CLICK", None),
    35: (rf"flowchart-elk{_W}", "GRAPH", "graph"),
    36: (rf"swimlane-beta{_W}", "GRAPH", "graph"),
    37: (rf"graph{_W}", "GRAPH", "graph"),
    38: (rf"flowchart{_W}", "GRAPH", "graph"),
    39: (rf"subgraph{_W}", "subgraph", None),
    40: (rf"end{_W}\s*", "end", None),
    41: (rf"_self{_W}", "LINK_TARGET", None),
    42: (rf"_blank{_W}", "LINK_TARGET", None),
    43: (rf"_parent{_W}", "LINK_TARGET", None),
    44: (rf"_top{_W}", "LINK_TARGET", None),
    45: (r"(\r?\n)*\s*\n", "NODIR", "pop"),
    46: (rf"\s*LR{_W}", "DIR", "pop"),
    47: (rf"\s*RL{_W}", "DIR", "pop"),
    48: (rf"\s*TB{_W}", "DIR", "pop"),
    49: (rf"\s*BT{_W}", "DIR", "pop"),
    50: (rf"\s*TD{_W}", "DIR", "pop"),
    51: (rf"\s*BR{_W}", "DIR", "pop"),
    52: (r"\s*<", "DIR", "pop"),
    53: (r"\s*>", "DIR", "pop"),
    54: (r"\s*\^", "DIR", "pop"),
    55: (rf"\s*v{_W}", "DIR", "pop"),
    56: (r".*direction\s+TB[^\n]*", "direction_tb", None),
    57: (r".*direction\s+BT[^\n]*", "direction_bt", None),
    58: (r".*direction\s+RL[^\n]*", "direction_rl", None),
    59: (r".*direction\s+LR[^\n]*", "direction_lr", None),
    60: (r".*direction\s+TD[^\n]*", "direction_td", None),
    61: (r'[^\s"]+@(?=[^{"])', "LINK_ID", None),
    62: (r"[0-9]+", "NUM", None),
    63: (r"#", "BRKT", None),
    64: (r":::", "STYLE_SEPARATOR", None),
    65: (r":", "COLON", None),
    66: (r"&", "AMP", None),
    67: (r";", "SEMI", None),
    68: (r",", "COMMA", None),
    69: (r"\*", "MULT", None),
    70: (r"\s*[xo<]?--+[-xo>]\s*", "LINK", "pop"),
    71: (r"\s*[xo<]?--\s*", "START_LINK", "push:edgeText"),
    72: (r"[^-]|-(?!-)", "EDGE_TEXT", None),
    73: (r"\s*[xo<]?==+[=xo>]\s*", "LINK", "pop"),
    74: (r"\s*[xo<]?==\s*", "START_LINK", "push:thickEdgeText"),
    75: (r"[^=]", "EDGE_TEXT", None),
    76: (r"\s*[xo<]?-?\.+-[xo>]?\s*", "LINK", "pop"),
    77: (r"\s*[xo<]?-\.\s*", "START_LINK", "push:dottedEdgeText"),
    78: (r"[^.]", "EDGE_TEXT", None),
    79: (r"\s*~~[~]+\s*", "LINK", None),
    80: (r"[-/)][)]", "-)", "pop"),
    81: (r"[^()\[\]{}]|!\)+", "TEXT", None),
    82: (r"\(-", "(-", "push:ellipseText"),
    83: (r"\]\)", "STADIUMEND", "pop"),
    84: (r"\(\[", "STADIUMSTART", "push:text"),
    85: (r"\]\]", "SUBROUTINEEND", "pop"),
    86: (r"\[\[", "SUBROUTINESTART", "push:text"),
    87: (r"\[\|", "VERTEX_WITH_PROPS_START", None),
    88: (r">", "TAGEND", "push:text"),
    89: (r"\)\]", "CYLINDEREND", "pop"),
    90: (r"\[\(", "CYLINDERSTART", "push:text"),
    91: (r"\)\)\)", "DOUBLECIRCLEEND", "pop"),
    92: (r"\(\(\(", "DOUBLECIRCLESTART", "push:text"),
    93: (r"[\\(?=\])][\]]", "TRAPEND", "pop"),
    94: (r"/(?=\])\]", "INVTRAPEND", "pop"),
    95: (r"/(?!\])|\\(?!\])|[^\\\[\](){}/]+", "TEXT", None),
    96: (r"\[/", "TRAPSTART", "push:trapText"),
    97: (r"\[\\", "INVTRAPSTART", "push:trapText"),
    98: (r"<", "TAGSTART", None),
    99: (r">", "TAGEND", None),
    100: (r"\^", "UP", None),
    101: (r"\\\|", "SEP", None),
    102: (rf"v{_W}", "DOWN", None),
    103: (r"\*", "MULT", None),
    104: (r"#", "BRKT", None),
    105: (r"&", "AMP", None),
    106: (r"(?:[A-Za-z0-9!\"#$%&'*+.`?\\_/]|-(?=[^>\-.]))+", "NODE_STRING", None),
    107: (r"-", "MINUS", None),
    108: ("", "UNICODE_TEXT", None),  # one letter of the Basic Multilingual Plane, see _unicode_letter
    109: (r"\|", "PIPE", "pop"),
    110: (r"\|", "PIPE", "push:text"),
    111: (r"\)", "PE", "pop"),
    112: (r"\(", "PS", "push:text"),
    113: (r"\]", "SQE", "pop"),
    114: (r"\[", "SQS", "push:text"),
    115: (r"\}", "DIAMOND_STOP", "pop"),
    116: (r"\{", "DIAMOND_START", "push:text"),
    117: (r'[^\[\](){}|"]+', "TEXT", None),
    118: (r'"', "QUOTE", None),
    119: (r"(\r?\n)+", "NEWLINE", None),
    120: (r"\s", "SPACE", None),
    121: (r"\Z", "EOF", None),
}
_EVERYWHERE = (21, 24, 79, 82, 84, 86, 90, 92, 96, 97, 110, 112, 114, 116)
_STATES: dict[str, tuple[int, ...]] = {
    "INITIAL": (0, 2, 4, 7, 13, 21, 24, 25, 26, 27, 28, 29, 30, 31, 32, *range(35, 45), *range(56, 72),
                73, 74, 76, 77, 79, 82, 84, 86, 87, 88, 90, 92, *range(96, 109), 110, 112, 114, 116,
                *range(118, 122)),
    "text": (21, 24, 79, 82, 83, 84, 85, 86, 89, 90, 91, 92, 96, 97, *range(109, 118)),
    "ellipseText": (80, 81),
    "trapText": (93, 94, 95),
    "edgeText": (70, 72),
    "thickEdgeText": (73, 75),
    "dottedEdgeText": (76, 78),
    "dir": tuple(range(45, 56)),
    "string": (22, 23),
    "md_string": (19, 20),
    "click": (33, 34),
    "href": (),
    "callbackname": (14, 15, 16),
    "callbackargs": (17, 18),
    "shapeData": (8, 11, 12),
    "shapeDataStr": (9, 10),
    "shapeDataEndBracket": (),
    "acc_title": (1,),
    "acc_descr": (3,),
    "acc_descr_multiline": (5, 6),
}


@lru_cache(maxsize=1)
def _lexer() -> tuple[dict[int, re.Pattern[str]], dict[str, tuple[int, ...]]]:
    """The compiled rules, and the rules each state tries, in mermaid's order."""
    rules = {index: re.compile(pattern) for index, (pattern, _, _) in _RULES.items() if index != 108}
    states = {state: own if state == "INITIAL" else tuple(sorted(set(own) | set(_EVERYWHERE)))
              for state, own in _STATES.items()}
    return rules, states


def _unicode_letter(char: str) -> bool:
    return "\u00aa" <= char <= "\uffff" and unicodedata.category(char).startswith("L")


def tokenize(source: str) -> list[Token]:
    """mermaid's flowchart tokens for ``source`` (already cleaned and encoded), ending with ``$end``.

    A lexical error becomes a ``LEXERROR`` token: mermaid reports it only when the parser reaches it.
    """
    rules, states = _lexer()
    tokens: list[Token] = []
    stack = ["INITIAL"]
    first_graph = True
    done = False
    pos = 0
    empty_matches = 0
    while True:
        if done:
            tokens.append(Token("$end", "", len(source), len(source)))
            return tokens
        if pos >= len(source):
            done = True
        found: tuple[int, int] | None = None
        for index in states[stack[-1]]:
            if index == 108:
                if pos < len(source) and _unicode_letter(source[pos]):
                    found = (index, pos + 1)
                    break
                continue
            match = rules[index].match(source, pos)
            if match:
                found = (index, match.end())
                break
        if found is None:
            if pos >= len(source):
                tokens.append(Token("$end", "", pos, pos))
            else:
                tokens.append(Token("LEXERROR", source[pos:pos + 20], pos, pos + 1))
            return tokens
        index, end = found
        _, kind, action = _RULES[index]
        text = source[pos:end]
        if action == "graph":
            if first_graph:
                first_graph = False
                stack.append("dir")
        elif action:
            for step in action.split(","):
                if step == "pop":
                    if len(stack) > 1:
                        stack.pop()
                else:
                    stack.append(step.split(":", 1)[1])
        if index == 7:
            text = ""
        elif index == 10:
            text = re.sub(r"\n\s*", "<br/>", text)
        empty_matches = empty_matches + 1 if end == pos else 0
        if empty_matches > 2 and not done:
            # empty matches that change nothing would loop forever; mermaid's rules never do
            tokens.append(Token("LEXERROR", source[pos:pos + 20], pos, pos + 1))
            return tokens
        if kind is not None:
            tokens.append(Token(kind, text, pos, end))
        pos = end

