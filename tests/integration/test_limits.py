"""Every configured limit, each on its own server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
import time

import httpx
import numpy as np
import pytest
import websockets
from conftest import LiveServer
from speech import PARAGRAPHS, synthesize

from streamscribe.audio import SAMPLE_RATE, encode_pcm16_base64
from streamscribe.client import RealtimeClient


def append_event(seconds: float) -> str:
    audio = encode_pcm16_base64(np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32))
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio})


async def test_max_sessions_refuses_with_a_clear_close_reason(server_factory) -> None:  # noqa: ANN001
    server: LiveServer = server_factory(max_sessions=2)
    async with RealtimeClient(server.url), RealtimeClient(server.url):
        async with websockets.connect(server.url) as ws:
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["code"] == "too_many_sessions"
            with pytest.raises(websockets.ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1013 and "capacity" in info.value.rcvd.reason
    # Capacity comes back when sessions end.
    await asyncio.sleep(0.2)
    async with RealtimeClient(server.url) as client:
        assert client.session["type"] == "session.created"


async def test_message_size_limit(server_factory) -> None:  # noqa: ANN001
    server: LiveServer = server_factory(max_message_bytes=20_000)
    async with websockets.connect(server.url) as ws:
        await ws.recv()
        await ws.send(append_event(1.0))  # ~43 kB of base64
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["code"] == "message_too_large"
        await ws.send(append_event(0.2))  # fits: the session is still usable
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "transcription.done"


async def test_append_size_limit(server_factory) -> None:  # noqa: ANN001
    server: LiveServer = server_factory(max_append_seconds=0.5)
    async with websockets.connect(server.url) as ws:
        await ws.recv()
        await ws.send(append_event(0.6))
        error = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert error["code"] == "append_too_large" and "0.5" in error["error"]


async def test_buffered_audio_limit(server_factory) -> None:  # noqa: ANN001
    server: LiveServer = server_factory(max_buffered_seconds=1.5)
    async with websockets.connect(server.url) as ws:
        await ws.recv()
        await ws.send(append_event(1.0))  # accepted
        await ws.send(append_event(2.0))  # more than the engine may hold unconsumed: refused
        events = [json.loads(await asyncio.wait_for(ws.recv(), 5))]
        assert events[0]["code"] == "buffer_full" and "1.5" in events[0]["error"]
        await ws.send(json.dumps({"type": "input_audio_buffer.commit", "final": True}))
        while events[-1]["type"] != "transcription.done":
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        assert events[-1]["usage"]["audio_seconds"] == 1.0  # the refused append is not counted


async def test_idle_timeout_flushes_then_closes(server_factory) -> None:  # noqa: ANN001
    server: LiveServer = server_factory(idle_timeout_seconds=1.5)
    audio = synthesize(PARAGRAPHS[0])
    async with websockets.connect(server.url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": encode_pcm16_base64(audio)}))
        events = []
        with pytest.raises(websockets.ConnectionClosed) as info:
            while True:
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        assert info.value.rcvd is not None and info.value.rcvd.reason == "idle timeout"
    types = [e["type"] for e in events]
    assert "transcription.done" in types, "the open utterance is flushed, not lost"
    assert events[-1]["code"] == "idle_timeout"
    done = next(e for e in events if e["type"] == "transcription.done")
    assert "smooth planks" in done["text"].lower()


async def test_overloaded_workers_refuse_new_sessions(server_factory) -> None:  # noqa: ANN001
    # Any step that starts later than due counts as overload with this bound, so a server that
    # has just run one utterance refuses the next session, and admits again once it is forgotten.
    server: LiveServer = server_factory(max_step_delay_seconds=1e-9)
    scheduler = server.state.schedulers["whisper-tiny.en"]
    async with RealtimeClient(server.url) as client:
        await client.append(synthesize(PARAGRAPHS[0])[: 2 * SAMPLE_RATE])
        await client.commit(final=True)
        await client.receive_until("transcription.done", timeout=30)
    assert scheduler.overloaded()
    async with websockets.connect(server.url) as ws:
        error = json.loads(await ws.recv())
        assert error["code"] == "server_overloaded"
        with pytest.raises(websockets.ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1013
        assert info.value.rcvd.reason == "server overloaded"
    metrics = (await asyncio.to_thread(httpx.get, f"{server.http}/metrics")).text
    assert 'streamscribe_sessions_rejected_total{reason="server_overloaded"} 1.0' in metrics


def _masked_text_frame(payload: bytes) -> bytes:
    """A client-to-server WebSocket text frame (RFC 6455 5.2), masked as clients must."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = bytes([0x81, 0x80 | size])
    elif size < 65536:
        head = bytes([0x81, 0x80 | 126]) + struct.pack(">H", size)
    else:
        head = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", size)
    masked = (np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), size)).tobytes()
    return head + mask + masked


def test_a_client_that_does_not_read_is_dropped(server_factory) -> None:  # noqa: ANN001
    """A raw socket that sends and never reads: every client library reads in the background."""
    server: LiveServer = server_factory(max_pending_events=4)
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /v1/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    # Each bad event echoes its 200 kB type in the error, so unread errors pile up fast.
    frame = _masked_text_frame(json.dumps({"type": "x" * 200_000}).encode())
    sock.settimeout(5)
    with contextlib.suppress(TimeoutError, OSError):
        for _ in range(300):  # the server stops reading once it gives up on us: sendall times out
            sock.sendall(frame)
    metrics = httpx.get(f"{server.http}/metrics", timeout=5).text
    assert 'streamscribe_errors_total{code="slow_client"} 1.0' in metrics
    sock.close()
    for _ in range(100):
        if server.health()["sessions"] == 0:
            break
        time.sleep(0.1)
    assert server.health()["sessions"] == 0
