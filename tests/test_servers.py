"""tests/servers.py: the helper that runs a real server process for the tests and benchmarks."""

from __future__ import annotations

import sys

import pytest

from tests.servers import running


def test_a_server_that_exits_early_raises_with_its_output():
    command = [sys.executable, "-c", "print('bad flag'); raise SystemExit(3)"]
    failing = running(command, lambda: False, "toy", timeout=30)
    with pytest.raises(RuntimeError, match=r"(?s)toy exited \(3\).*bad flag"), failing:
        pass


def test_a_ready_server_is_stopped_when_the_block_ends(tmp_path):
    flag = tmp_path / "up"
    command = [
        sys.executable,
        "-c",
        f"open({str(flag)!r}, 'w').close(); import time; time.sleep(60)",
    ]
    with running(command, flag.exists, "toy", timeout=30, log=tmp_path / "toy.log") as server:
        assert server.poll() is None
    assert server.poll() is not None


def test_a_server_never_ready_times_out():
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    waiting = running(command, lambda: False, "toy", timeout=1)
    with pytest.raises(TimeoutError, match="toy not ready within 1 s"), waiting:
        pass
