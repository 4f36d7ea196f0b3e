"""The html checker: finding the page, HTML5 parsing, and selector assertions."""

from __future__ import annotations

import json
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verdicts import judged, parsed

from pytest_gptoss.checkers.html import CHECKER, element_text, extract_html, parse_html
from pytest_gptoss.verdict import SpecError, Verdict

BOOTSTRAP_5 = r"^(https?:)?//.*bootstrap[@/]5(?![0-9])"

# The seed case: a dark, fixed, responsive Bootstrap 5 navbar.
NAVBAR_SPEC = {
    "document": True,
    "assert": [
        {"selector": "link[rel~=stylesheet]", "attr_regex": {"href": BOOTSTRAP_5}},
        {"selector": "script[src]", "attr_regex": {"src": BOOTSTRAP_5 + r".*\.js"}},
        {"selector": "nav.navbar.navbar-expand-lg.fixed-top", "count": 1},
        "nav.navbar.navbar-dark, nav.navbar.bg-dark, nav.navbar[data-bs-theme=dark]",
        "nav.navbar .navbar-toggler[data-bs-toggle=collapse]",
        "nav.navbar .collapse.navbar-collapse",
        {"selector": "nav.navbar .navbar-brand", "text": "MyBrand"},
        {"selector": "nav.navbar .navbar-nav .nav-link", "texts": ["首页", "产品", "服务", "关于我们", "联系方式"]},
        {"selector": "nav.navbar .dropdown-toggle[data-bs-toggle=dropdown]", "text": "产品"},
        {
            "selector": 'nav.navbar .dropdown:has(> .dropdown-toggle:-soup-contains-own("产品"))'
                        " .dropdown-menu .dropdown-item",
            "texts": ["电子产品", "家居用品", "图书音像"],
        },
        {"selector": "nav.navbar [class*=btn-outline]", "text": "登录"},
        {"selector": "nav.navbar .btn:not([class*=btn-outline])", "text": "注册"},
    ],
}

CSS_5 = "https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/css/bootstrap.min.css"
JS_5 = "https://cdn.jsdelivr.net/npm/bootstrap@5.3.3/dist/js/bootstrap.bundle.min.js"

# An element: (tag, attributes, children); a child is an element or a text.
Node = tuple


def navbar_page(omit: frozenset[str] = frozenset()) -> Node:
    """The seed case's page as a tree; each name in ``omit`` breaks one requirement."""
    css, js = CSS_5, JS_5
    if "bootstrap5" in omit:
        css, js = css.replace("@5.3.3", "@4.6.2"), js.replace("@5.3.3", "@4.6.2")
    nav_class = "navbar navbar-expand-lg " + ("navbar-light bg-light" if "dark" in omit else "navbar-dark bg-dark")
    if "fixed" not in omit:
        nav_class += " fixed-top"
    link = ("a", {"class": "nav-link", "href": "#"})
    items = [("li", {"class": "nav-item"}, [(*link, ["首页"])])]
    dropdown = ("li", {"class": "nav-item dropdown"}, [
        ("a", {"class": "nav-link dropdown-toggle", "href": "#", "role": "button",
               "data-bs-toggle": "dropdown", "aria-expanded": "false"}, ["产品"]),
        ("ul", {"class": "dropdown-menu"}, [
            ("li", {}, [("a", {"class": "dropdown-item", "href": "#"}, [name])])
            for name in ["电子产品", "家居用品", "图书音像"] if not (name == "图书音像" and "dropdown-item" in omit)
        ]),
    ])
    items.append(dropdown)
    items += [("li", {"class": "nav-item"}, [(*link, [name])]) for name in ["服务", "关于我们", "联系方式"]]
    toggler = ("button", {"class": "navbar-toggler", "type": "button", "data-bs-toggle": "collapse",
                          "data-bs-target": "#mainNav", "aria-controls": "mainNav", "aria-expanded": "false",
                          "aria-label": "切换导航"}, [("span", {"class": "navbar-toggler-icon"}, [])])
    outline = "btn-light" if "outline" in omit else "btn-outline-light"
    container = [
        ("a", {"class": "navbar-brand", "href": "#"}, ["Brand" if "brand" in omit else "MyBrand"]),
        *([] if "toggler" in omit else [toggler]),
        ("div", {"class": "collapse navbar-collapse", "id": "mainNav"}, [
            ("ul", {"class": "navbar-nav me-auto mb-2 mb-lg-0"}, items),
            ("div", {"class": "d-flex"}, [
                ("button", {"class": f"btn {outline} me-2", "type": "button"}, ["登录"]),
                ("button", {"class": "btn btn-primary", "type": "button"}, ["注册"]),
            ]),
        ]),
    ]
    return ("html", {"lang": "zh-CN"}, [
        ("head", {}, [
            ("meta", {"charset": "UTF-8"}, None),
            ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}, None),
            ("title", {}, ["导航栏"]),
            ("link", {"href": css, "rel": "stylesheet"}, None),
        ]),
        ("body", {}, [
            ("nav", {"class": nav_class}, [("div", {"class": "container-fluid"}, container)]),
            ("script", {"src": js}, []),
        ]),
    ])


#: which assertions (indices into NAVBAR_SPEC["assert"]) each omission must fail
BREAKS = {
    "toggler": {4},
    "dark": {3},
    "dropdown-item": {9},
    "outline": {10},
    "bootstrap5": {0, 1},
    "brand": {6},
    "fixed": {2},
}


def render(node: Node, rnd: random.Random | None = None, depth: int = 0) -> str:
    """HTML for ``node``; with ``rnd``, attribute order, quotes, tag case and whitespace vary."""
    tag, attrs, children = node
    names = list(attrs)
    if rnd is not None:
        rnd.shuffle(names)
        tag = rnd.choice([tag, tag.upper(), tag.capitalize()])
    parts = []
    for name in names:
        quote = rnd.choice(['"', "'"]) if rnd is not None else '"'
        spacing = rnd.choice([" ", "  ", "\n  "]) if rnd is not None else " "
        parts.append(f"{spacing}{name}={quote}{attrs[name]}{quote}")
    opening = f"<{tag}{''.join(parts)}>"
    if children is None:
        return opening
    def gap() -> str:
        if rnd is None:
            return "\n" + "  " * (depth + 1)
        return rnd.choice(["", " ", "\n", "\n" + " " * rnd.randint(0, 8), "\t"])
    inner = "".join(gap() + (render(c, rnd, depth + 1) if isinstance(c, tuple) else c) for c in children)
    closing = "" if rnd is None else gap()
    return f"{opening}{inner}{closing}</{tag}>"


def page(omit: frozenset[str] = frozenset(), rnd: random.Random | None = None) -> str:
    return "<!DOCTYPE html>\n" + render(navbar_page(omit), rnd) + "\n"


def answer(html: str) -> str:
    return f"下面是完整的页面代码：\n\n```html\n{html}```\n\n说明：导航栏在小屏幕上会折叠。"


def failed(verdict: Verdict) -> set[int | None]:
    return {f["index"] for f in verdict.details["failed"]}


def test_the_correct_navbar_passes_the_seed_spec() -> None:
    CHECKER.parse(NAVBAR_SPEC)
    verdict = CHECKER.check(NAVBAR_SPEC, answer(page()))
    assert verdict.passed, verdict.explain()
    assert verdict.found == "all 13 assertions held"
    assert verdict.where == "```html block (answer line 3)"


@pytest.mark.parametrize("omission", sorted(BREAKS))
def test_each_omission_fails_exactly_its_assertions(omission: str) -> None:
    verdict = CHECKER.check(NAVBAR_SPEC, answer(page(frozenset({omission}))))
    assert not verdict.passed
    assert failed(verdict) == BREAKS[omission], verdict.explain()
    assert verdict.why == f"{len(BREAKS[omission])} of 13 assertions failed"
    for index in BREAKS[omission]:
        assertion = NAVBAR_SPEC["assert"][index]
        selector = assertion if isinstance(assertion, str) else assertion["selector"]
        assert f"✗ assert[{index}] {selector}" in verdict.found


OMISSION_MESSAGES = [
    ("toggler", "✗ assert[4] nav.navbar .navbar-toggler[data-bs-toggle=collapse]: expected at least one; found none"),
    ("dark", "nav.navbar[data-bs-theme=dark]: expected at least one; found none"),
    ("dropdown-item", "texts include 电子产品, 家居用品, 图书音像: missing '图书音像'; texts found: '电子产品', '家居用品'"),
    ("outline", "✗ assert[10] nav.navbar [class*=btn-outline] text = '登录': expected at least one; "
                "no element matches the selector"),
    ("bootstrap5", "1 element matches the selector but none passes the filters; first: <link "
                   'href="https://cdn.jsdelivr.net/npm/bootstrap@4.6.2/dist/css/bootstrap.min.css"'),
    ("brand", "✗ assert[6] nav.navbar .navbar-brand text = 'MyBrand': expected at least one; "
              "1 element matches the selector but none passes the filters; texts found: 'Brand'"),
    ("fixed", "✗ assert[2] nav.navbar.navbar-expand-lg.fixed-top: expected exactly 1; found none"),
]


@pytest.mark.parametrize(("omission", "message"), OMISSION_MESSAGES, ids=[m[0] for m in OMISSION_MESSAGES])
def test_each_failure_says_what_was_expected_and_found(omission: str, message: str) -> None:
    verdict = CHECKER.check(NAVBAR_SPEC, answer(page(frozenset({omission}))))
    assert message in verdict.found


def test_where_points_at_the_element_that_failed_in_the_answer() -> None:
    text = answer(page(frozenset({"brand"})))
    verdict = CHECKER.check(NAVBAR_SPEC, text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "navbar-brand" in row)
    origin, located = verdict.where.splitlines()
    assert origin == "```html block (answer line 3)"
    assert located.startswith(f"assert[6]: line {line}: ")
    assert '»<a class="navbar-brand" href="#">«⏎' in located


def test_a_dark_theme_attribute_counts_as_dark() -> None:
    html = page(frozenset({"dark"})).replace('class="navbar navbar-expand-lg navbar-light bg-light',
                                             'data-bs-theme="dark" class="navbar navbar-expand-lg bg-body-tertiary')
    assert CHECKER.check(NAVBAR_SPEC, answer(html)).passed


def test_bootstrap_4_attributes_fail_the_bootstrap_5_toggles() -> None:
    html = page().replace("data-bs-toggle", "data-toggle")
    verdict = CHECKER.check(NAVBAR_SPEC, answer(html))
    assert failed(verdict) == {4, 8}


def test_a_dropdown_under_another_item_fails() -> None:
    html = re.sub(r'(dropdown-toggle"[^>]*>\s*)产品', r"\1更多", page())
    verdict = CHECKER.check(NAVBAR_SPEC, answer(html))
    assert failed(verdict) == {7, 8, 9}
    assert "missing '产品'" in verdict.found


def test_a_fragment_is_not_a_document() -> None:
    nav = re.search(r"<nav.*</nav>", page(), re.S).group(0)  # type: ignore[union-attr]
    verdict = CHECKER.check({"document": True, "assert": ["nav.navbar"]}, answer(nav))
    assert failed(verdict) == {None}
    assert "✗ document: no <!DOCTYPE html> and no <html> tag in the source" in verdict.found
    commented = "<!-- <html> -->\n" + nav
    assert failed(CHECKER.check({"document": True}, answer(commented))) == {None}
    assert CHECKER.check({"document": True}, answer("<html><body><p>x</p></body></html>")).passed


# -- finding the HTML -----------------------------------------------------------

EXTRACTION = [
    ("html-fence", "看：\n```html\n<p>a</p>\n```", "<p>a</p>\n", "```html block (answer line 2)"),
    ("htm-fence-among-others", "```css\np { }\n```\n```HTM\n<p>a</p>\n```", "<p>a</p>\n",
     "```htm block (answer line 4)"),
    ("document-block-wins", "```html\n<!doctype html><p>a</p>\n```\n改这里：\n```html\n<p>b</p><p>longer</p>\n```",
     "<!doctype html><p>a</p>\n", "```html block 1 of 2 (answer line 1)"),
    ("longest-block-wins", "```html\n<p>a</p>\n```\n```html\n<div><p>b</p></div>\n```",
     "<div><p>b</p></div>\n", "```html block 2 of 2 (answer line 4)"),
    ("untagged-fence-with-a-tag", "```\n<ul><li>x</li></ul>\n```", "<ul><li>x</li></ul>\n",
     "untagged fenced block (answer line 1)"),
    ("other-fence-with-a-tag", "```xml\n<div>x</div>\n```", "<div>x</div>\n", "```xml block (answer line 1)"),
    ("bare-doctype", "好的。\n<!DOCTYPE html>\n<html><p>x</p></html>\n以上。", "<!DOCTYPE html>\n<html><p>x</p></html>",
     "the answer's text from line 2 (no fenced block)"),
    ("bare-first-tag", "如 a<b 所示，代码是 <div class='x'>y</div> 结束", "<div class='x'>y</div>",
     "the answer's text from line 1 (no fenced block)"),
]


@pytest.mark.parametrize(("text", "source", "origin"), [e[1:] for e in EXTRACTION], ids=[e[0] for e in EXTRACTION])
def test_extraction(text: str, source: str, origin: str) -> None:
    extracted = extract_html(text)
    assert extracted is not None
    assert extracted.source == source
    assert extracted.origin == origin
    assert text[extracted.offset:].startswith(source)


def test_no_html_fails_with_its_own_message() -> None:
    verdict = CHECKER.check({"assert": ["p"]}, "我无法生成页面。")
    assert not verdict.passed
    assert verdict.found == "no HTML in the answer"
    assert verdict.where == "answer (8 chars): 我无法生成页面。"
    assert CHECKER.check({"assert": ["p"]}, "").where == "the answer is empty"


# -- HTML5 parsing --------------------------------------------------------------

MALFORMED_HTML = """
<table><tr><td>a<td>b</table>
<p>para<div>block</div>
<ul><li>one<li>two<li>three</ul>
<b><i>bold italic</b> italic?</i>
<a href=x>unclosed
"""

HTML5_EXAMPLES = [
    ("implied-tbody", {"selector": "table > tbody > tr > td", "count": 2}, True),
    ("no-tr-directly-in-table", {"selector": "table > tr", "exists": False}, True),
    ("p-closed-before-div", {"selector": "p div", "exists": False}, True),
    ("p-keeps-its-text", {"selector": "p", "text": "para"}, True),
    ("li-auto-closed", {"selector": "ul > li", "count": 3}, True),
    ("li-text-is-its-own", {"selector": "ul > li", "texts": ["one", "two", "three"]}, True),
    ("misnested-b-i-repaired", {"selector": "b > i", "text": "bold italic"}, True),
    ("unclosed-a-runs-to-the-end", {"selector": "body > a[href=x]", "text_contains": "unclosed"}, True),
    ("wrong-nesting-is-not-found", {"selector": "td td"}, False),
]


@pytest.mark.parametrize(("assertion", "passes"), [e[1:] for e in HTML5_EXAMPLES], ids=[e[0] for e in HTML5_EXAMPLES])
def test_malformed_html_is_parsed_by_the_html5_rules(assertion: dict, passes: bool) -> None:
    spec = {"assert": [assertion]}
    CHECKER.parse(spec)
    verdict = CHECKER.check(spec, "```html" + MALFORMED_HTML + "```")
    assert verdict.passed is passes, verdict.explain()


def test_element_text_collapses_whitespace_and_joins_children() -> None:
    soup = parse_html("<a>\n   产<b>品</b>\n  <i></i> 与   服务 </a>")
    assert element_text(soup.select_one("a")) == "产品 与 服务"


# -- assertions -----------------------------------------------------------------

LIST_PAGE = """<ul id=menu>
  <li class="item a">Alpha</li>
  <li class="item b" data-n="12">Beta  Two</li>
  <li class="item c" data-n="7">Gamma</li>
</ul>"""

ASSERTIONS = [
    ("exists-default", "li.item", True, ""),
    ("exists-false-holds", {"selector": "li.d", "exists": False}, True, ""),
    ("exists-false-fails", {"selector": "li.b", "exists": False}, False,
     'expected none; found 1: <li class="item b" data-n="12">Beta Two</li>'),
    ("count-exact", {"selector": "li", "count": 3}, True, ""),
    ("count-exact-fails", {"selector": "li", "count": 2}, False, "expected exactly 2; found 3"),
    ("count-range", {"selector": "li", "count": {"min": 2, "max": 4}}, True, ""),
    ("count-max-fails", {"selector": "li", "count": {"max": 2}}, False, "expected at most 2; found 3"),
    ("count-min-fails", {"selector": "li", "count": {"min": 4}}, False, "expected at least 4; found 3"),
    ("count-zero", {"selector": "table", "count": 0}, True, ""),
    ("text-normalised", {"selector": "li", "text": "Beta Two"}, True, ""),
    ("text-is-exact", {"selector": "li", "text": "Beta"}, False,
     "texts found: 'Alpha', 'Beta Two', 'Gamma'"),
    ("text-contains", {"selector": "li", "text_contains": "eta T"}, True, ""),
    ("text-regex", {"selector": "li", "text_regex": r"^G\w+a$"}, True, ""),
    ("filters-then-count", {"selector": "li", "text_regex": "a$", "count": 2}, True, ""),
    ("filters-then-count-fails", {"selector": "li", "text_regex": "a$", "count": 3}, False,
     "expected exactly 3; found 2 (of 3 matching the selector)"),
    ("attr-regex", {"selector": "li", "attr_regex": {"data-n": r"^\d{2}$"}, "text": "Beta Two"}, True, ""),
    ("attr-regex-on-class-list", {"selector": "li", "attr_regex": {"class": r"^item c$"}}, True, ""),
    ("attr-regex-missing-attribute", {"selector": "li.a", "attr_regex": {"data-n": "."}}, False,
     'first: <li class="item a">Alpha</li>'),
    ("texts-any-order", {"selector": "#menu li", "texts": ["Gamma", "Alpha"]}, True, ""),
    ("texts-missing", {"selector": "#menu li", "texts": ["Alpha", "Delta"]}, False,
     "missing 'Delta'; texts found: 'Alpha', 'Beta Two', 'Gamma'"),
    ("texts-nothing-matches", {"selector": "ol li", "texts": ["Alpha"]}, False,
     "missing 'Alpha'; no element matches the selector"),
    ("selector-list-is-any-of", "li.z, li.c", True, ""),
    ("soup-contains", 'li:-soup-contains("Gam")', True, ""),
    ("has-and-not", "ul:has(> li.c) > li:not(.a):not(.b)", True, ""),
]


@pytest.mark.parametrize(("assertion", "passes", "note"), [a[1:] for a in ASSERTIONS], ids=[a[0] for a in ASSERTIONS])
def test_assertions(assertion: object, passes: bool, note: str) -> None:
    spec = {"assert": [assertion]}
    CHECKER.parse(spec)
    verdict = CHECKER.check(spec, LIST_PAGE)
    assert verdict.passed is passes, verdict.explain()
    assert note in verdict.found
    assert failed(verdict) == (set() if passes else {0})


def test_every_failure_is_listed_and_the_list_stays_on_one_screen() -> None:
    spec = {"assert": [f"li.missing-{i}" for i in range(20)] + ["li"]}
    verdict = CHECKER.check(spec, LIST_PAGE)
    assert verdict.why == "20 of 21 assertions failed"
    assert "… and 12 more" in verdict.found
    assert len(verdict.explain().splitlines()) <= 20


def test_expected_summarises_every_assertion() -> None:
    spec = {"document": True, "assert": [{"selector": "li", "count": {"min": 2}}, {"selector": "p", "text": "x"},
                                         {"selector": "a", "texts": ["b"]}]}
    verdict = CHECKER.check(spec, LIST_PAGE)
    assert verdict.expected == "a full HTML document; li (at least 2); p text = 'x'; a texts include b"


def test_verdict_is_plain_data() -> None:
    verdict = CHECKER.check(NAVBAR_SPEC, answer(page(frozenset({"brand", "toggler"}))))
    assert Verdict.from_dict(json.loads(json.dumps(verdict.to_dict()))) == verdict


def test_dispatch_runs_the_html_checker_on_the_chosen_channel() -> None:
    spec = {"html": {"assert": ["li.c"], "on": "analysis"}}
    parsed(spec)
    assert judged(spec, {"final": "", "analysis": LIST_PAGE}).passed
    assert not judged({"html": {"assert": ["li.c"]}}, {"final": "none", "analysis": LIST_PAGE}).passed
    with pytest.raises(SpecError) as caught:
        parsed({"html": {"assert": ["li", {"selector": "li[", "count": 1}]}})
    assert caught.value.path == ("html", "assert", 1, "selector")


MALFORMED_SPECS = [
    ("string", "nav", ()),
    ("empty", {}, ()),
    ("unknown-key", {"assert": ["p"], "strict": True}, ("strict",)),
    ("document-not-bool", {"document": "yes"}, ("document",)),
    ("assert-not-list", {"assert": "p"}, ("assert",)),
    ("assert-empty", {"assert": []}, ("assert",)),
    ("assertion-number", {"assert": ["p", 3]}, ("assert", 1)),
    ("assertion-unknown-key", {"assert": [{"selector": "p", "contains": "x"}]}, ("assert", 0, "contains")),
    ("selector-missing", {"assert": [{"text": "x"}]}, ("assert", 0, "selector")),
    ("selector-blank", {"assert": ["  "]}, ("assert", 0, "selector")),
    ("selector-invalid", {"assert": ["p", "div > > a"]}, ("assert", 1, "selector")),
    ("text-not-string", {"assert": [{"selector": "p", "text": 5}]}, ("assert", 0, "text")),
    ("text-regex-invalid", {"assert": [{"selector": "p", "text_regex": "(x"}]}, ("assert", 0, "text_regex")),
    ("attr-regex-not-mapping", {"assert": [{"selector": "a", "attr_regex": "href"}]}, ("assert", 0, "attr_regex")),
    ("attr-regex-empty", {"assert": [{"selector": "a", "attr_regex": {}}]}, ("assert", 0, "attr_regex")),
    ("attr-regex-invalid", {"assert": [{"selector": "a", "attr_regex": {"href": "[x"}}]},
     ("assert", 0, "attr_regex", "href")),
    ("texts-not-list", {"assert": [{"selector": "a", "texts": "x"}]}, ("assert", 0, "texts")),
    ("texts-blank-item", {"assert": [{"selector": "a", "texts": ["x", " "]}]}, ("assert", 0, "texts")),
    ("texts-with-text", {"assert": [{"selector": "a", "texts": ["x"], "text": "x"}]}, ("assert", 0, "texts")),
    ("texts-with-exists-false", {"assert": [{"selector": "a", "texts": ["x"], "exists": False}]},
     ("assert", 0, "texts")),
    ("exists-and-count", {"assert": [{"selector": "a", "exists": True, "count": 1}]}, ("assert", 0, "count")),
    ("exists-not-bool", {"assert": [{"selector": "a", "exists": "no"}]}, ("assert", 0, "exists")),
    ("count-negative", {"assert": [{"selector": "a", "count": -1}]}, ("assert", 0, "count")),
    ("count-bool", {"assert": [{"selector": "a", "count": True}]}, ("assert", 0, "count")),
    ("count-unknown-bound", {"assert": [{"selector": "a", "count": {"least": 1}}]}, ("assert", 0, "count")),
    ("count-bound-not-int", {"assert": [{"selector": "a", "count": {"min": 1.5}}]}, ("assert", 0, "count", "min")),
    ("count-min-above-max", {"assert": [{"selector": "a", "count": {"min": 3, "max": 2}}]}, ("assert", 0, "count")),
]


@pytest.mark.parametrize(("spec", "path"), [m[1:] for m in MALFORMED_SPECS], ids=[m[0] for m in MALFORMED_SPECS])
def test_malformed_specs_raise_with_the_field_path(spec: object, path: tuple) -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse(spec)
    assert caught.value.path == path
    assert caught.value.message


def test_an_invalid_selector_is_quoted_in_the_message() -> None:
    with pytest.raises(SpecError) as caught:
        CHECKER.parse({"assert": ["div > > a"]})
    assert caught.value.message.startswith("invalid CSS selector 'div > > a': ")


# -- properties ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    omit=st.frozensets(st.sampled_from(sorted(BREAKS))),
    seed=st.integers(0, 2**32 - 1),
    fenced=st.booleans(),
)
def test_whitespace_quotes_case_and_attribute_order_do_not_change_the_verdict(
    omit: frozenset[str], seed: int, fenced: bool
) -> None:
    html = page(omit, random.Random(seed))
    verdict = CHECKER.check(NAVBAR_SPEC, answer(html) if fenced else "页面如下。\n" + html + "\n以上。")
    expected = set().union(*(BREAKS[name] for name in omit)) if omit else set()
    assert failed(verdict) == expected, verdict.explain()
    assert verdict.passed is not omit
    assert failed(verdict) == failed(CHECKER.check(NAVBAR_SPEC, answer(page(omit))))
