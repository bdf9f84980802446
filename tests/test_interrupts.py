"""SIGINT during ``corpuslake run``: the first one is recorded (the caller starts nothing more), a second one
stops the process at once with 130. Touches: a child process."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(
    """
    import sys, time
    from orchestration.interrupts import Interrupts

    with Interrupts() as interrupts:
        print("ready", flush=True)
        while not interrupts.requested:
            time.sleep(0.05)
        print("requested", flush=True)
        if sys.argv[1] == "once":
            sys.exit(0)
        time.sleep(600)  # only a second SIGINT ends this
    """
)


def _child(mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_the_first_sigint_is_recorded_without_raising() -> None:
    child = _child("once")
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert out.strip() == "requested"
    assert "starting no more" in err and "KeyboardInterrupt" not in err


def test_a_second_sigint_forces_exit_130() -> None:
    child = _child("twice")
    child.send_signal(signal.SIGINT)
    assert child.stdout is not None and child.stdout.readline().strip() == "requested"
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130
    assert "stopping at once" in err
