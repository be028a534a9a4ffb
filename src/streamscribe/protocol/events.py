"""Pydantic models of every realtime event, vLLM dialect.

Field order matters: vLLM serialises with ``model_dump_json()`` in declaration order, ``null``
fields included, and clients compare traces; we do the same. Client events tolerate unknown
fields (as vLLM's ``OpenAIBaseModel`` does); server events never carry any.
"""

from __future__ import annotations

import secrets
import time
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr


class ClientEventBase(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class SessionUpdate(ClientEventBase):
    """Choose the model (and optionally language) for the utterances that start after it."""

    type: Literal["session.update"] = "session.update"
    model: StrictStr | None = None
    language: StrictStr | None = None


class InputAudioBufferAppend(ClientEventBase):
    """Base64 PCM16 little-endian, 16 kHz, mono."""

    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: StrictStr


class InputAudioBufferCommit(ClientEventBase):
    """``final: false`` opens an utterance; ``final: true`` ends its audio."""

    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"
    final: bool = False


ClientEvent = Annotated[SessionUpdate | InputAudioBufferAppend | InputAudioBufferCommit, Field(discriminator="type")]
CLIENT_EVENT_TYPES: frozenset[str] = frozenset(
    {"session.update", "input_audio_buffer.append", "input_audio_buffer.commit"}
)


class ServerEventBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def new_session_id() -> str:
    """``sess-`` and 16 hex digits, the shape vLLM sends."""
    return f"sess-{secrets.token_hex(8)}"


class SessionCreated(ServerEventBase):
    type: Literal["session.created"] = "session.created"
    id: str = Field(default_factory=new_session_id)
    created: int = Field(default_factory=lambda: int(time.time()))


class SessionUpdated(ServerEventBase):
    """Our answer to ``session.update`` (vLLM's tests wait for it; its clients ignore it)."""

    type: Literal["session.updated"] = "session.updated"
    id: str
    model: str
    language: str | None = None


class TranscriptionDelta(ServerEventBase):
    """Newly stable text. Never empty; never revised."""

    type: Literal["transcription.delta"] = "transcription.delta"
    delta: str


class Usage(ServerEventBase):
    """vLLM's ``UsageInfo`` field order, plus the audio seconds this utterance carried."""

    prompt_tokens: int = 0
    total_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: None = None
    audio_seconds: float = 0.0


class TranscriptionDone(ServerEventBase):
    """End of an utterance; ``text`` is exactly the concatenation of its deltas."""

    type: Literal["transcription.done"] = "transcription.done"
    text: str
    usage: Usage


class ErrorEvent(ServerEventBase):
    """Flat, as vLLM sends it: a human message and a machine code."""

    type: Literal["error"] = "error"
    error: str
    code: str


ServerEvent = SessionCreated | SessionUpdated | TranscriptionDelta | TranscriptionDone | ErrorEvent
