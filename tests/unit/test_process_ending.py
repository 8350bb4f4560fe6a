"""Ending the processes a service leaves at its stop (service/processes.py), with real processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from service.processes import _zombie, end_now, end_processes


def a_child(code: str = "import time; time.sleep(30)") -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def test_a_child_that_ended_but_was_not_yet_waited_for_counts_as_ended_not_as_running() -> None:
    child = a_child()
    try:
        assert not _zombie(child.pid)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 5
        while not _zombie(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _zombie(child.pid)  # a signal still reaches it until its parent reads its status
        started = time.monotonic()
        end_processes([child.pid], grace=2.0)
        assert time.monotonic() - started < 1.0  # not the 2 x 2 s a running one is given
    finally:
        child.kill()
        child.wait()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    child = a_child("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                    "print('ready', flush=True); time.sleep(30)")
    try:
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        started = time.monotonic()
        end_processes([child.pid], grace=0.3)
        assert child.wait(5) == -signal.SIGKILL
        assert 0.3 <= time.monotonic() - started < 2.0
    finally:
        child.kill()
        child.wait()


def test_ending_now_is_a_sigkill_and_signals_no_process_already_waited_for() -> None:
    child = a_child()
    end_now([child])
    assert child.wait(5) == -signal.SIGKILL
    end_now([child])  # its pid may be another process's by now: not signalled again
