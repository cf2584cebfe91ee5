"""Servers the tests and benchmarks start on a free loopback port, each a real process run until
the block ends: the page (``app.py``), a ``chroma run``, any other (``running``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    """The URL answers 200, or 401/403 (serving, behind a key)."""
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except urllib.error.HTTPError as error:
        return error.code in (401, 403)
    except OSError:
        return False


@contextlib.contextmanager
def running(
    command: Sequence[str],
    ready: Callable[[], bool],
    name: str,
    timeout: float = 60.0,
    log: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen]:
    """Run ``command`` until the block ends, entering it once ``ready()``; its output goes to
    ``log`` (appended) or a temporary file, never a pipe (a chatty server would stall on a full
    one). If it exits or is not ready within ``timeout`` s, raise with the end of its output."""
    with open(log, "ab+") if log else tempfile.TemporaryFile() as out:
        server = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )

        def output() -> str:
            out.flush()
            out.seek(0)
            return out.read().decode(errors="replace")[-3000:]

        try:
            deadline = time.monotonic() + timeout
            while not ready():
                if server.poll() is not None:
                    raise RuntimeError(f"{name} exited ({server.returncode}):\n{output()}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready within {timeout:.0f} s:\n{output()}")
                time.sleep(0.2)
            yield server
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextlib.contextmanager
def chroma_server(path: Path, host: str = HOST, port: int = 0) -> Iterator[str]:
    """Run the chromadb package's own server (``chroma run``) over ``path`` until the block ends,
    on a free port unless one is given; yields its URL. For tests, benchmarks and trying server
    mode on one machine."""
    port = port or free_port(host)
    path.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    command = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(path)]
    command += ["--host", host, "--port", str(port)]
    env = {"ANONYMIZED_TELEMETRY": "False"}
    log = path.with_name(path.name + ".log")
    with running(command, lambda: answers(f"{url}/api/v2/heartbeat"), "chroma run", 60, log, env):
        yield url


@contextlib.contextmanager
def page_server(
    env: dict[str, str] | None = None, args: Sequence[str] = (), timeout: float = 300
) -> Iterator[str]:
    """Run the page and API (``app.py``) on a free loopback port until the block ends; yields
    its URL once it serves."""
    port = free_port()
    url = f"http://{HOST}:{port}/"
    command = [sys.executable, str(ROOT / "app.py"), "--host", HOST, "--port", str(port), *args]
    ready = lambda: answers(url + "gradio_api/info")  # noqa: E731
    with running(command, ready, "app", timeout, env=env, cwd=ROOT):
        yield url
