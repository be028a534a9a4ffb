"""The realtime session as a pure state machine: client events in, server events and engine actions out.

Rules (as h11 keeps its rules at the top of its state file):

1. Nothing here does I/O, reads a clock or touches a model. The connection feeds parsed client
   events (``handle``) and engine results (``on_hypothesis``, ``on_engine_error``) and carries
   out what comes back: server events to send, ``Action``s for the scheduler.
2. An illegal event raises a ``ClientError`` and leaves the state unchanged; the connection
   turns it into one ``error`` event and the session goes on.
3. Deltas carry stable text only, are never empty, and their concatenation is exactly the
   utterance's ``transcription.done.text``: ``_text`` is built only from what was sent.

States, and what each client event does in them:

==========  =============================  ==============================  ==============================
state       append                         commit                          commit final
==========  =============================  ==============================  ==============================
IDLE        open utterance, feed → STREAM  open utterance → STREAMING      invalid_state (nothing open)
STREAMING   feed                           ignored (already open, as vLLM) finish stream → FINISHING
FINISHING   hold for next utterance        next utterance opens after done hold a final for it, else
                                                                           invalid_state
==========  =============================  ==============================  ==============================

A final hypothesis in FINISHING sends ``transcription.done`` and returns to IDLE, opening at
once the next utterance if audio or a commit arrived meanwhile (vLLM drops that audio; we keep it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from streamscribe.audio import SAMPLE_RATE, Samples, decode_pcm16_base64
from streamscribe.engines.base import Hypothesis
from streamscribe.errors import (
    AppendTooLargeError,
    BufferFullError,
    InvalidStateError,
    ModelNotFoundError,
    StreamscribeError,
)
from streamscribe.protocol.events import (
    ClientEvent,
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    TranscriptionDelta,
    TranscriptionDone,
    Usage,
)

ENCODER_POSITIONS_PER_SECOND = 50  # how Whisper "tokenises" audio; reported as prompt_tokens


class State(enum.Enum):
    IDLE = "idle"
    STREAMING = "streaming"
    FINISHING = "finishing"


@dataclass(frozen=True)
class OpenStream:
    utterance: int
    model: str
    language: str | None


@dataclass(frozen=True)
class FeedAudio:
    utterance: int
    samples: Samples = field(repr=False)


@dataclass(frozen=True)
class FinishStream:
    utterance: int


@dataclass(frozen=True)
class CloseStream:
    utterance: int


Action = OpenStream | FeedAudio | FinishStream | CloseStream
Output = ServerEvent | Action


@dataclass(frozen=True)
class SessionLimits:
    """Limits the session enforces itself (the engine backlog is bounded by ``AudioBacklog``)."""

    max_append_seconds: float = 60.0
    max_pending_seconds: float = 300.0


@dataclass
class _Next:
    """What arrived for the next utterance while the current one was finishing."""

    opened: bool = False
    final: bool = False
    audio: list[Samples] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(len(chunk) for chunk in self.audio)

    @property
    def pending(self) -> bool:
        return self.opened or bool(self.audio)


class Session:
    """One realtime connection's protocol state."""

    def __init__(
        self,
        models: frozenset[str],
        default_model: str,
        limits: SessionLimits | None = None,
        created: SessionCreated | None = None,
    ) -> None:
        self.created = created or SessionCreated()
        self.models = models
        self.model = default_model
        self._default_model = default_model
        self.language: str | None = None
        self.limits = limits or SessionLimits()
        self.state = State.IDLE
        self.utterance = 0
        self._text = ""
        self._tokens = 0
        self._next = _Next()

    @property
    def id(self) -> str:
        return self.created.id

    # -- client events ---------------------------------------------------------------------------

    def handle(self, event: ClientEvent) -> list[Output]:
        """Apply one client event; raises ``ClientError`` (state unchanged) when it is not allowed."""
        if isinstance(event, SessionUpdate):
            return self._update(event)
        if isinstance(event, InputAudioBufferAppend):
            return self._append(decode_pcm16_base64(event.audio))
        if isinstance(event, InputAudioBufferCommit):
            return self._commit_final() if event.final else self._commit()
        raise AssertionError(f"unhandled event {event!r}")  # pragma: no cover - the codec guarantees it

    def _update(self, event: SessionUpdate) -> list[Output]:
        model = self.model if event.model is None else (event.model or self._default_model)
        if model not in self.models:
            raise ModelNotFoundError(model)
        self.model = model
        if event.language is not None:
            self.language = event.language or None
        return [SessionUpdated(id=self.id, model=self.model, language=self.language)]

    def _append(self, samples: Samples) -> list[Output]:
        seconds = len(samples) / SAMPLE_RATE
        if seconds > self.limits.max_append_seconds:
            raise AppendTooLargeError("append", seconds, self.limits.max_append_seconds)
        if self.state is State.FINISHING:
            held = (self._next.samples + len(samples)) / SAMPLE_RATE
            if held > self.limits.max_pending_seconds:
                raise BufferFullError("audio held for the next utterance", held, self.limits.max_pending_seconds)
            self._next.audio.append(samples)
            return []
        out: list[Output] = []
        if self.state is State.IDLE:
            out.append(self._open())
        out.append(FeedAudio(self.utterance, samples))
        return out

    def _commit(self) -> list[Output]:
        if self.state is State.IDLE:
            return [self._open()]
        if self.state is State.FINISHING:
            self._next.opened = True
        return []

    def _commit_final(self) -> list[Output]:
        if self.state is State.STREAMING:
            self.state = State.FINISHING
            return [FinishStream(self.utterance)]
        if self.state is State.FINISHING and self._next.pending and not self._next.final:
            self._next.final = True
            return []
        if self.state is State.FINISHING:
            raise InvalidStateError("The utterance is already being finalized; wait for transcription.done")
        raise InvalidStateError("Nothing to commit: no utterance is open (send audio or a commit first)")

    def _open(self) -> OpenStream:
        self.utterance += 1
        self.state = State.STREAMING
        self._text, self._tokens = "", 0
        return OpenStream(self.utterance, self.model, self.language)

    # -- engine results --------------------------------------------------------------------------

    def on_hypothesis(self, utterance: int, hypothesis: Hypothesis) -> list[Output]:
        """New stable text (and, when final, the end) of an utterance's transcription."""
        if utterance != self.utterance or self.state is State.IDLE:
            return []  # a late result of an utterance that ended or was abandoned
        out: list[Output] = []
        delta = hypothesis.stable.lstrip() if not self._text else hypothesis.stable
        if delta:
            self._text += delta
            out.append(TranscriptionDelta(delta=delta))
        self._tokens += hypothesis.tokens
        if hypothesis.final:
            seconds = hypothesis.audio_seconds  # what the engine accepted, not what was offered
            prompt = round(seconds * ENCODER_POSITIONS_PER_SECOND)
            usage = Usage(
                prompt_tokens=prompt,
                total_tokens=prompt + self._tokens,
                completion_tokens=self._tokens,
                audio_seconds=round(seconds, 3),
            )
            out.append(TranscriptionDone(text=self._text, usage=usage))
            out.extend(self._end_utterance())
        return out

    def on_engine_error(self, utterance: int, error: StreamscribeError) -> list[Output]:
        """The engine failed this utterance: one error event, no done (as vLLM), session goes on."""
        if utterance != self.utterance or self.state is State.IDLE:
            return []
        return [ErrorEvent(error=error.message, code=error.code), *self._end_utterance()]

    def _end_utterance(self) -> list[Output]:
        self.state = State.IDLE
        following, self._next = self._next, _Next()
        if not following.pending:
            return []
        out: list[Output] = [self._open()]
        for chunk in following.audio:
            out.append(FeedAudio(self.utterance, chunk))
        if following.final:
            self.state = State.FINISHING
            out.append(FinishStream(self.utterance))
        return out

    # -- teardown --------------------------------------------------------------------------------

    def close(self) -> list[Output]:
        """The connection is going away: release the engine stream, if any."""
        out: list[Output] = [CloseStream(self.utterance)] if self.state is not State.IDLE else []
        self.state = State.IDLE
        self._next = _Next()
        return out
