"""The README's table of `kopilka` commands names every command and every option the command
itself shows in `kopilka COMMAND --help`, so a new command or flag cannot go unlisted."""

import re
from pathlib import Path

import pytest

from tests.cli_tools import english_operator, run  # noqa: F401 (fixture)

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_rows() -> dict[str, str]:
    """Each row's first cell, by the command it is about (`kopilka tick [...]` -> tick)."""
    text = README.read_text()
    section = text.split("## The `kopilka` command", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\| `kopilka ([a-z][a-z-]*)([^|]*)\|", line)
        if match:
            rows[match.group(1)] = match.group(0)
    return rows


def listed_commands(capsys) -> list[str]:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    return re.findall(r"^  ([a-z][a-z-]*)  ", out, flags=re.MULTILINE)


def usage_options(command: str, capsys) -> set[str]:
    """The long options in the command's usage lines (not the ones its prose mentions)."""
    code, out, _ = run([command, "--help"], capsys)
    assert code == 0
    usage = out.split("\n\n", 1)[0]
    return set(re.findall(r"--[a-z][a-z-]*", usage)) - {"--help"}


def test_the_readme_lists_every_command(capsys, english_operator):  # noqa: F811
    commands = listed_commands(capsys)
    assert {"up", "tick", "smpp-receipts", "sms-topup", "verify-ledger"} <= set(commands)
    assert sorted(readme_rows()) == sorted(commands)


@pytest.mark.parametrize("command", [
    name for name in sorted(readme_rows())
    if name != "manage"  # its options are Django's, listed by `kopilka manage help`
])
def test_the_readme_row_names_every_option(command, capsys, english_operator):  # noqa: F811
    row = readme_rows()[command]
    missing = sorted(option for option in usage_options(command, capsys) if option not in row)
    assert not missing, f"README's row for `kopilka {command}` lacks {missing}"
