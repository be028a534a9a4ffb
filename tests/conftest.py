"""Shared fixtures: the real model (loaded once), real uvicorn servers on free ports."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parent))

from streamscribe.config import Settings  # noqa: E402
from streamscribe.engines import Recognizer, load_recognizer  # noqa: E402
from streamscribe.server import create_app  # noqa: E402
from streamscribe.server.app import engine_options  # noqa: E402
from streamscribe.server.state import ServerState  # noqa: E402


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    model = load_recognizer("whisper-tiny.en", engine_options(Settings()))
    model.warm_up()
    return model


@dataclass
class LiveServer:
    """A real uvicorn serving the real app on 127.0.0.1, in a background thread."""

    port: int
    state: ServerState
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, object]:
        body: dict[str, object] = httpx.get(f"{self.http}/health", timeout=5).json()
        return body

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(recognizer: Recognizer, **overrides: object) -> LiveServer:
    settings = Settings(port=_free_port(), **overrides)  # type: ignore[arg-type]
    app = create_app(settings, recognizer=recognizer)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=settings.port, log_level="warning", ws_max_size=16 * 1024 * 1024
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    return LiveServer(settings.port, app.state.streamscribe, server, thread)


@pytest.fixture(scope="session")
def live_server(recognizer: Recognizer) -> Iterator[LiveServer]:
    """The default server, shared by every test that does not change a setting."""
    server = start_server(recognizer)
    yield server
    server.stop()


@pytest.fixture
def server_factory(recognizer: Recognizer) -> Iterator[Callable[..., LiveServer]]:
    """Start a server with other settings (limits); stopped after the test."""
    started: list[LiveServer] = []

    def factory(**overrides: object) -> LiveServer:
        server = start_server(recognizer, **overrides)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()
