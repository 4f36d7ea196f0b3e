"""The README's examples are real: every checker example validates, every option is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from verdicts import parsed

from pytest_gptoss import checkers
from pytest_gptoss.cases import load_file, parse_yaml
from pytest_gptoss.checkers.registry import Registry
from pytest_gptoss.options import OPTIONS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _check_examples() -> list[str]:
    examples = []
    for block in re.findall(r"```yaml\n(.*?)```", README, re.S):
        for chunk in re.split(r"^(?=check:)", block, flags=re.M):
            if chunk.startswith("check:"):
                examples.append(chunk)
    return examples


@pytest.mark.parametrize("example", _check_examples())
def test_every_checker_example_in_the_readme_validates(example: str) -> None:
    parsed(parse_yaml(example)["check"])


def test_the_readme_shows_every_checker() -> None:
    shown = {name for example in _check_examples() for name in re.findall(r"^\s*-?\s*(\w+):", example, re.M)}
    assert set(Registry().names()) <= shown
    assert set(checkers.COMPOSITIONS) <= shown


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.flag)
def test_every_option_is_in_the_readme_with_an_example(option: object) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{option.flag}")), None)
    assert row is not None, f"{option.flag} has no row in the README's option table"
    assert row.count(option.flag) >= 2, f"{option.flag}'s row has no example"


def test_the_layout_names_every_module_of_the_package() -> None:
    layout = README.split("## Layout", 1)[1].split("\ncases/", 1)[0]
    package = Path(__file__).resolve().parent.parent / "pytest_gptoss"
    modules = [path for folder in (package, package / "backends") for path in folder.glob("*.py")]
    missing = [path.name for path in modules if path.stem != "__init__"
               and not re.search(rf"\b{path.stem}(\.py|:|\))", layout)]
    assert not missing, f"README's layout does not name {missing}"


#: whole case files in the README (the custom checker's is run by test_extending.py, with its checker)
CASE_FILES = [block for block in re.findall(r"```yaml\n(cases:\n.*?)```", README, re.S) if "word_count" not in block]


@pytest.mark.parametrize("block", CASE_FILES, ids=lambda block: re.findall(r"id: ([\w-]+)", block)[0])
def test_every_case_file_in_the_readme_loads(tmp_path: Path, block: str) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(block, encoding="utf-8")
    assert load_file(path)
