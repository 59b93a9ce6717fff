"""The suite's own set-up (tests/suite.py): which runs go parallel, and ids xdist can use."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.suite import _group, _names_whole_directories

ROOT = Path(__file__).resolve().parent.parent


def config(*args: str, source=pytest.Config.ArgsSource.ARGS):
    return SimpleNamespace(args=list(args), args_source=source,
                           invocation_params=SimpleNamespace(dir=ROOT))


def test_directories_and_the_whole_suite_go_parallel_files_and_tests_do_not():
    assert _names_whole_directories(config("tests", source=pytest.Config.ArgsSource.TESTPATHS))
    assert _names_whole_directories(config("tests/api"))
    assert _names_whole_directories(config("tests/api/test_sales.py", "tests/ledger"))
    assert not _names_whole_directories(config("tests/api/test_sales.py"))
    assert not _names_whole_directories(config("tests/api/test_sales.py::test_x", "tests/core"
                                               "/test_money.py"))


def test_every_test_has_an_id_of_its_own_and_groups_are_marked_in_them(request):
    items = request.session.items
    assert len({item.nodeid for item in items}) == len(items)
    fuzz = [item.nodeid for item in items if item.nodeid.startswith("tests/api/test_fuzz.py")]
    assert len(set(fuzz)) == len(fuzz)
    assert all("::test_api[" in nodeid for nodeid in fuzz)
    workerinput = getattr(request.config, "workerinput", {})
    if workerinput.get("kopilka_dist") == "loadgroup":  # what xdist's scheduler groups by
        grouped = [item for item in items if _group(item)]
        assert all(item.nodeid.endswith(f"@{_group(item)}") for item in grouped)
