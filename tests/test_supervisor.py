"""`kopilka up` and `kopilka worker` run their processes side by side (`cli.run_children`):
a requested stop (Ctrl-C, SIGTERM) is calm, a child that dies is reported as a crash."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

# The supervisor in a process of its own, as `kopilka up` runs it: signals reach it for real.
SUPERVISOR = textwrap.dedent(r"""
    import sys
    from kopilka.cli import run_children
    # One write each, so two children's lines never interleave; Ctrl-C kills them at once,
    # quietly, as it does gunicorn.
    ready = [sys.executable, "-c", "import os, signal, time; "
             "signal.signal(signal.SIGINT, signal.SIG_DFL); os.write(1, b'ready\\n'); "
             "time.sleep(600)"]
    crash = [sys.executable, "-c", "import sys; sys.exit(3)"]
    children = {"web server": ready, "worker": ready}
    if sys.argv[1] == "crash":
        children["tick"] = crash
    sys.exit(run_children(children))
""")


def supervise(mode):
    process = subprocess.Popen(
        [sys.executable, "-c", SUPERVISOR, mode], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    if mode == "calm":
        # Ready when both children said so: no sleep that a loaded machine could outrun.
        assert [process.stdout.readline() for _ in range(2)] == ["ready\n", "ready\n"]
    return process


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_requested_stop_is_calm_and_exits_0(how):
    process = supervise("calm")
    if how == "ctrl-c":
        os.killpg(process.pid, signal.SIGINT)  # the terminal signals the whole group
    else:
        process.send_signal(signal.SIGTERM)  # a service manager signals the main process
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert err == "\nkopilka: stopping...\nkopilka: stopped\n"


def test_a_child_that_dies_is_a_crash_and_stops_the_others():
    process = supervise("crash")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 3
    assert err == ("kopilka: the tick stopped on its own (exit code 3); "
                   "shutting down the others\n")
