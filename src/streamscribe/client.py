"""An async client of ``/v1/realtime`` (vLLM dialect), used by the CLI, the benchmark and tests."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from streamscribe.audio import SAMPLE_RATE, Samples, encode_pcm16_base64

Event = dict[str, Any]
POLL_SECONDS = 0.5  # how often a waiting client checks its sender and deadline


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


async def paced_chunks(samples: Samples, speed: float = 1.0, chunk_seconds: float = 0.1) -> AsyncIterator[Samples]:
    """A buffer cut into chunks, each released when its audio would have been spoken (``speed`` x).

    ``speed`` 0 releases them all at once. After the last chunk it waits for that chunk's own
    duration, so the end of audio is not announced before the audio "happened".
    """
    chunk = max(int(chunk_seconds * SAMPLE_RATE), 1)
    start = time.monotonic()
    for index, offset in enumerate(range(0, len(samples), chunk)):
        if speed > 0:
            await asyncio.sleep(max(start + index * chunk_seconds / speed - time.monotonic(), 0))
        yield np.asarray(samples[offset : offset + chunk])
    if speed > 0:
        await asyncio.sleep(max(start + len(samples) / SAMPLE_RATE / speed - time.monotonic(), 0))


async def stream_audio(
    client: RealtimeClient,
    samples: Samples,
    speed: float = 1.0,
    chunk_seconds: float = 0.1,
    on_event: Callable[[Event], None] | None = None,
    timeout: float = 120.0,
) -> StreamResult:
    """Send ``samples`` as one utterance at ``speed`` x real time (0: as fast as possible)."""
    return await stream_chunks(client, paced_chunks(samples, speed, chunk_seconds), on_event, timeout)


async def stream_chunks(
    client: RealtimeClient,
    chunks: AsyncIterator[Samples],
    on_event: Callable[[Event], None] | None = None,
    timeout: float | None = 120.0,
) -> StreamResult:
    """Send one utterance: commit, an append per chunk as the source yields it, final commit.

    The source may be a file (``paced_chunks``) or a live microphone (``microphone_chunks``):
    it ends the utterance by ending. Returns when ``transcription.done`` (or an error that ends
    the utterance) arrives; ``timeout`` counts from the end of the audio.
    """
    result = StreamResult()
    start = time.monotonic()
    sent_at: float | None = None

    async def send() -> None:
        nonlocal sent_at
        await client.commit()
        async for chunk in chunks:
            await client.append(chunk)
            result.audio_seconds += len(chunk) / SAMPLE_RATE
        result.final_commit_at = time.monotonic() - start
        await client.commit(final=True)
        sent_at = time.monotonic()

    sender = asyncio.create_task(send())
    try:
        while True:
            if sender.done() and sender.exception():
                raise sender.exception()  # type: ignore[misc]
            if sent_at is not None and timeout is not None and time.monotonic() > sent_at + timeout:
                raise TimeoutError(f"no transcription.done {timeout:g} s after the end of audio")
            try:
                event = await client.receive(timeout=POLL_SECONDS)
            except TimeoutError:
                continue
            result.events.append(TimedEvent(time.monotonic() - start, event))
            if on_event:
                on_event(event)
            if event.get("type") == "transcription.done":
                result.text = event.get("text", "")
                break
            if event.get("type") == "error" and event.get("code") == "processing_error":
                break
        result.done_at = time.monotonic() - start
    finally:
        sender.cancel()
    return result


async def microphone_chunks(chunk_seconds: float = 0.1, stop: asyncio.Event | None = None) -> AsyncIterator[Samples]:
    """Live 16 kHz mono chunks from the default input device, until ``stop`` is set.

    Needs the optional ``sounddevice`` package (``pip install 'streamscribe[mic]'``) and PortAudio.
    The device callback runs on PortAudio's thread; chunks cross to the loop through a bounded
    queue, and a chunk the loop cannot take in time is dropped rather than blocking the device.
    """
    try:
        import sounddevice
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise RuntimeError("microphone capture needs: pip install 'streamscribe[mic]'") from exc
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Samples] = asyncio.Queue(maxsize=100)
    stop = stop or asyncio.Event()

    def put(chunk: Samples) -> None:
        if not queue.full():
            queue.put_nowait(chunk)

    def callback(data: Any, frames: int, when: Any, status: Any) -> None:
        loop.call_soon_threadsafe(put, np.array(data[:, 0], dtype=np.float32))

    blocksize = int(chunk_seconds * SAMPLE_RATE)
    with sounddevice.InputStream(
        samplerate=SAMPLE_RATE, channels=1, dtype="float32", blocksize=blocksize, callback=callback
    ):
        while not stop.is_set():
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, pending = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if getter in done:
                yield getter.result()
