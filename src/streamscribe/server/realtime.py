"""``/v1/realtime``: the only WebSocket loop. It moves text and actions; ``Session`` decides.

One connection = one reader (this coroutine), one writer task draining a bounded outbox, and
engine results arriving from worker threads via ``call_soon_threadsafe``. Every failure of a
client event becomes an ``error`` event; only limits meant to protect the server close it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from functools import partial

from starlette.websockets import WebSocket, WebSocketDisconnect

from streamscribe.engines.base import Hypothesis
from streamscribe.errors import (
    CapacityError,
    EngineError,
    IdleTimeoutError,
    InvalidFrameError,
    OverloadedError,
    SlowClientError,
    StreamscribeError,
)
from streamscribe.protocol import ErrorEvent, InputAudioBufferCommit, ServerEvent, parse_client_event, serialize
from streamscribe.scheduler import StreamHandle
from streamscribe.server.state import ServerState
from streamscribe.session import CloseStream, FeedAudio, FinishStream, OpenStream, Output, Session, SessionLimits, State

log = logging.getLogger(__name__)

CLOSE_GRACE_SECONDS = 10.0  # how long an idle-closed session may take to flush its last utterance
TRY_AGAIN_LATER = 1013
POLICY_VIOLATION = 1008


async def realtime_endpoint(websocket: WebSocket) -> None:
    state: ServerState = websocket.app.state.streamscribe
    await websocket.accept()
    refusal: StreamscribeError | None = None
    if state.sessions >= state.settings.max_sessions:
        refusal = CapacityError(f"Server at capacity ({state.settings.max_sessions} sessions); try again later")
    elif any(scheduler.overloaded() for scheduler in state.schedulers.values()):
        refusal = OverloadedError("Server overloaded: transcription is behind real time; try again later")
    if refusal is not None:
        state.metrics.sessions_rejected.labels(refusal.code).inc()
        await websocket.send_text(serialize(ErrorEvent(error=refusal.message, code=refusal.code)))
        reason = "server at capacity" if isinstance(refusal, CapacityError) else "server overloaded"
        await websocket.close(TRY_AGAIN_LATER, reason=reason)
        return
    state.sessions += 1
    state.metrics.sessions_total.inc()
    state.metrics.sessions_active.inc()
    try:
        await Connection(websocket, state).run()
    finally:
        state.sessions -= 1
        state.metrics.sessions_active.dec()


class Connection:
    """Drives one ``Session`` over one WebSocket."""

    def __init__(self, websocket: WebSocket, state: ServerState) -> None:
        self.ws = websocket
        self.state = state
        settings = state.settings
        self.session = Session(
            models=frozenset(state.schedulers),
            default_model=settings.model,
            limits=SessionLimits(settings.max_append_seconds, settings.max_buffered_seconds),
        )
        self.outbox: asyncio.Queue[ServerEvent | None] = asyncio.Queue(settings.max_pending_events)
        self.handles: dict[int, StreamHandle] = {}
        self.loop = asyncio.get_running_loop()
        self.idle = asyncio.Event()
        self.idle.set()
        self.close_code: tuple[int, str] | None = None

    async def run(self) -> None:
        writer = asyncio.create_task(self._write())
        self.reader = asyncio.create_task(self._read())
        try:
            self._send(self.session.created)
            await self.reader
        except WebSocketDisconnect:
            pass
        except asyncio.CancelledError:
            if self.close_code is None:  # cancelled from outside (shutdown), not by ``_send``
                raise
        finally:
            self.reader.cancel()
            self._apply(self.session.close())
            if self.outbox.full():  # a client that does not read gets no more events
                writer.cancel()
            else:  # flush what is queued, then close
                self.outbox.put_nowait(None)
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer, CLOSE_GRACE_SECONDS)
            if self.close_code:
                with contextlib.suppress(Exception):
                    await self.ws.close(*self.close_code)

    async def _read(self) -> None:
        settings = self.state.settings
        while self.close_code is None:
            try:
                message = await asyncio.wait_for(self.ws.receive(), settings.idle_timeout_seconds)
            except TimeoutError:
                await self._close_idle()
                return
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            try:
                if text is None:
                    raise InvalidFrameError("Binary frames are not supported; send JSON text frames")
                event = parse_client_event(text, settings.max_message_bytes)
                self._apply(self.session.handle(event))
            except StreamscribeError as error:
                self._error(error)

    async def _close_idle(self) -> None:
        """No message for the idle timeout: finish the open utterance, say why, close."""
        if self.session.state is State.STREAMING:
            self._apply(self.session.handle(InputAudioBufferCommit(final=True)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), CLOSE_GRACE_SECONDS)
        seconds = self.state.settings.idle_timeout_seconds
        self._error(IdleTimeoutError(f"No message for {seconds:g} seconds; closing the session"))
        self.close_code = (1000, "idle timeout")

    # -- carrying out the session's outputs ------------------------------------------------------

    def _apply(self, outputs: list[Output]) -> None:
        for output in outputs:
            try:
                self._apply_one(output)
            except StreamscribeError as error:
                self._error(error)

    def _apply_one(self, output: Output) -> None:
        if isinstance(output, OpenStream):
            scheduler = self.state.schedulers[output.model]
            deliver = partial(self._deliver_threadsafe, output.utterance)
            self.handles[output.utterance] = scheduler.open(deliver, output.language)
            self.idle.clear()
        elif isinstance(output, FeedAudio):
            self.handles[output.utterance].accept(output.samples)
            self.state.metrics.audio_seconds.inc(len(output.samples) / 16_000)
        elif isinstance(output, FinishStream):
            self.handles[output.utterance].finish()
        elif isinstance(output, CloseStream):
            handle = self.handles.pop(output.utterance, None)
            if handle:
                handle.close()
        else:
            self._send(output)
        if self.session.state is State.IDLE:
            self.idle.set()

    def _deliver_threadsafe(self, utterance: int, result: Hypothesis | EngineError) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is shutting down
            self.loop.call_soon_threadsafe(self._on_result, utterance, result)

    def _on_result(self, utterance: int, result: Hypothesis | EngineError) -> None:
        if isinstance(result, EngineError):
            self.handles.pop(utterance, None)
            self._apply(self.session.on_engine_error(utterance, result))
            return
        if result.final:
            self.handles.pop(utterance, None)
        outputs = self.session.on_hypothesis(utterance, result)
        if result.final and outputs:
            self.state.metrics.utterances.inc()
        self._apply(outputs)

    # -- sending ---------------------------------------------------------------------------------

    def _error(self, error: StreamscribeError) -> None:
        self.state.metrics.errors.labels(error.code).inc()
        self._send(ErrorEvent(error=error.message, code=error.code))

    def _send(self, event: ServerEvent) -> None:
        try:
            self.outbox.put_nowait(event)
        except asyncio.QueueFull:
            if self.close_code is None:
                log.warning("session %s: client does not read its events; closing", self.session.id)
                self.state.metrics.errors.labels(SlowClientError.code).inc()
                self.close_code = (POLICY_VIOLATION, "client is not reading events")
                self.reader.cancel()  # stop taking its messages now, not at its next one

    async def _write(self) -> None:
        while (event := await self.outbox.get()) is not None:
            try:
                await self.ws.send_text(serialize(event))
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
