"""Servers the tests and benchmarks start on a free loopback port: a real ``chroma run``."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.request import urlopen


@contextlib.contextmanager
def chroma_server(path: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the chromadb package's own server (``chroma run``) over ``path`` until the block ends,
    on a free port unless one is given; yields its URL. For tests, benchmarks and trying server
    mode on one machine."""
    if not port:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    path.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    command = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path)]
    command += ["--host", host, "--port", str(port)]
    with open(path.with_name(path.name + ".log"), "ab") as server_log:
        server = subprocess.Popen(
            command,
            stdout=server_log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
        )
        try:
            _wait_until_up(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"chroma run exited with status {server.returncode}")
        with contextlib.suppress(OSError), urlopen(f"{url}/api/v2/heartbeat", timeout=2):
            return
        time.sleep(0.1)
    raise TimeoutError(f"chroma run did not answer at {url} within {timeout:.0f} s")
