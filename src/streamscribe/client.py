"""An async client of ``/v1/realtime`` (vLLM dialect), used by the CLI, the benchmark and tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from streamscribe.audio import SAMPLE_RATE, Samples, encode_pcm16_base64

Event = dict[str, Any]


class RealtimeClient:
    """One WebSocket session. ``async with RealtimeClient(url) as client: ...``"""

    def __init__(self, url: str, headers: dict[str, str] | None = None, max_size: int | None = 2**24) -> None:
        self.url = url
        self.headers = headers or {}
        self.max_size = max_size
        self.session: Event = {}
        self._ws: Any = None

    async def __aenter__(self) -> RealtimeClient:
        self._ws = await websockets.connect(self.url, additional_headers=self.headers, max_size=self.max_size)
        self.session = await self.receive()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()

    async def send(self, event: Event) -> None:
        await self._ws.send(json.dumps(event))

    async def update_session(self, model: str | None = None, language: str | None = None) -> None:
        event: Event = {"type": "session.update"}
        if model is not None:
            event["model"] = model
        if language is not None:
            event["language"] = language
        await self.send(event)

    async def append(self, samples: Samples) -> None:
        await self.send({"type": "input_audio_buffer.append", "audio": encode_pcm16_base64(samples)})

    async def commit(self, final: bool = False) -> None:
        event: Event = {"type": "input_audio_buffer.commit"}
        if final:
            event["final"] = True
        await self.send(event)

    async def receive(self, timeout: float | None = None) -> Event:
        raw = await asyncio.wait_for(self._ws.recv(), timeout)
        event: Event = json.loads(raw)
        return event

    async def receive_until(self, event_type: str, timeout: float = 60.0) -> list[Event]:
        """Every event up to and including the first of ``event_type``."""
        events: list[Event] = []
        deadline = time.monotonic() + timeout
        while True:
            event = await self.receive(max(deadline - time.monotonic(), 0.001))
            events.append(event)
            if event.get("type") == event_type:
                return events


@dataclass
class TimedEvent:
    at: float  # seconds since the first audio was sent
    event: Event


@dataclass
class StreamResult:
    """What streaming one utterance produced, with the client-side timeline."""

    text: str = ""
    events: list[TimedEvent] = field(default_factory=list)
    audio_seconds: float = 0.0
    final_commit_at: float = 0.0
    done_at: float = 0.0

    @property
    def deltas(self) -> list[TimedEvent]:
        return [e for e in self.events if e.event.get("type") == "transcription.delta"]

    @property
    def errors(self) -> list[Event]:
        return [e.event for e in self.events if e.event.get("type") == "error"]

    @property
    def final_latency(self) -> float:
        return self.done_at - self.final_commit_at


async def stream_audio(
    client: RealtimeClient,
    samples: Samples,
    speed: float = 1.0,
    chunk_seconds: float = 0.1,
    on_event: Callable[[Event], None] | None = None,
    timeout: float = 120.0,
) -> StreamResult:
    """Send ``samples`` as one utterance (commit, appends at ``speed`` x real time, final commit).

    ``speed`` 0 sends as fast as possible. Returns when ``transcription.done`` (or an error
    that ends the utterance) arrives.
    """
    result = StreamResult(audio_seconds=len(samples) / SAMPLE_RATE)
    chunk = max(int(chunk_seconds * SAMPLE_RATE), 1)
    start = time.monotonic()

    async def send() -> None:
        await client.commit()
        for index, offset in enumerate(range(0, len(samples), chunk)):
            if speed > 0:
                due = start + index * chunk_seconds / speed
                await asyncio.sleep(max(due - time.monotonic(), 0))
            await client.append(np.asarray(samples[offset : offset + chunk]))
        if speed > 0:  # the last chunk's audio has not "happened" until its duration passed
            await asyncio.sleep(max(start + len(samples) / SAMPLE_RATE / speed - time.monotonic(), 0))
        result.final_commit_at = time.monotonic() - start
        await client.commit(final=True)

    async def receive() -> None:
        while True:
            event = await client.receive()
            result.events.append(TimedEvent(time.monotonic() - start, event))
            if on_event:
                on_event(event)
            if event.get("type") == "transcription.done":
                result.done_at = time.monotonic() - start
                result.text = event.get("text", "")
                return
            if event.get("type") == "error" and event.get("code") == "processing_error":
                result.done_at = time.monotonic() - start
                return

    sender = asyncio.create_task(send())
    try:
        await asyncio.wait_for(receive(), timeout)
    finally:
        sender.cancel()
    return result
