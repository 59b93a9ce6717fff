"""How the suite runs (a plugin, loaded by tests/conftest.py): in parallel by default, the slow
tests first, and cheap password hashes.

- Parallel: with no `-n` given, a run over directories (or over the whole of `tests/`) gets
  `-n auto`, one pytest-xdist worker per CPU core; each worker has its own test database
  (pytest-django suffixes its name: `test-kopilka.sqlite3_gw0`, `test_kopilka_gw0`). A run
  naming only files or single tests stays in this process: one test should not pay for the
  workers' start-up (each imports Django and collects its tests again). `-n 0` or
  `-p no:xdist` runs serially; `-n 4` any other number.
- Scheduling: `--dist loadgroup` unless another `--dist` is given: tests marked
  `xdist_group(name)` (the Celery tests, which share one broker worker per module) run on one
  worker; every other test goes to whichever worker is free. Each worker collects the slow
  tests first, so the long ones start early and the short ones fill in around them instead of
  one long test running alone at the end.
- Password hashes: every merchant a test creates has an owner with a password, and argon2 with
  Kopilka's parameters costs about 0.3 s of CPU and 100 MB per hash; the tests hash with MD5
  instead (Django's advice for test suites). tests/core/test_passwords.py checks the production
  setting still hashes with argon2; processes the tests start (`kopilka up`, the Celery worker)
  use it unchanged.
"""

from collections import Counter
from pathlib import Path

import pytest
from django.test import override_settings


def _names_whole_directories(config: pytest.Config) -> bool:
    """No path given (testpaths), or one of them is a directory."""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return True
    return any(Path(config.invocation_params.dir, arg.split("::")[0]).is_dir()
               for arg in config.args)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the options
def pytest_cmdline_main(config: pytest.Config) -> None:
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    option = config.option
    if option.numprocesses is None and not option.collectonly and _names_whole_directories(config):
        option.numprocesses = "auto"
    if option.numprocesses and option.dist == "no":
        option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown under `-p no:xdist`
def pytest_configure_node(node) -> None:
    # Workers parse the command line again, not the options set above: tell them the mode.
    node.workerinput["kopilka_dist"] = node.config.option.dist


def _set_id(item: pytest.Item, nodeid: str) -> None:
    # No public way to set an id: pytest 9.2 keeps it structured in `_id`, earlier versions as
    # a string in `_nodeid`. Should that change again, the check of unique ids below stops the
    # run, and tests/test_suite.py fails.
    if hasattr(item, "_id"):
        from _pytest.nodeid import NodeId

        item._id = NodeId.parse(nodeid)
    else:
        item._nodeid = nodeid


def _group(item: pytest.Item) -> str | None:
    names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                    for mark in item.iter_markers("xdist_group")})
    return "_".join(names) or None


@pytest.hookimpl(trylast=True)  # after xdist's own renaming and pytest's reordering
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Schemathesis (4.32 on pytest 9.2) gives all its tests one id, `test_fuzz.py::test_api`, for
    # the 68 operations; xdist schedules by id and would run one of them. Their names tell
    # them apart (`test_api[GET /api/v1/pos/terminal]`).
    ids = Counter(item.nodeid for item in items)
    for item in items:
        if ids[item.nodeid] > 1:
            _set_id(item, f"{item.parent.nodeid}::{item.name}")
    if len({item.nodeid for item in items}) < len(items):
        twice = sorted({item.nodeid for item in items if ids[item.nodeid] > 1})
        raise pytest.UsageError(f"tests share an id, xdist would run one of each: {twice[:5]}")
    if not hasattr(config, "workerinput"):
        return  # a serial run keeps the files' order
    # xdist 3.8 marks a test's group by appending "@group" to its id, through `_nodeid`, which
    # pytest 9.2 ignores (and only when `--dist loadgroup` was typed): without this, a group is
    # spread over the workers.
    if config.workerinput.get("kopilka_dist") == "loadgroup":
        for item in items:
            group = _group(item)
            if group and not item.nodeid.endswith(f"@{group}"):
                _set_id(item, f"{item.nodeid}@{group}")
    # Every worker sorts the same collection the same way, as xdist requires.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    from django.conf import settings

    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher", *settings.PASSWORD_HASHERS]
    with override_settings(PASSWORD_HASHERS=hashers):
        yield
