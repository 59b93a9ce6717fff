"""Running `kopilka` commands in-process, as an operator with an English locale would."""

import pytest

from kopilka import cli


@pytest.fixture
def english_operator(monkeypatch):
    """The CLI speaks the operator's locale; tests that assert English texts use LANG=C."""
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C")


def run(argv, capsys) -> tuple[int, str, str]:
    """The command's exit code, stdout and stderr."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err
