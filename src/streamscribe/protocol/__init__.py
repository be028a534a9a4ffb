"""The wire: event models and the codec. No I/O here."""

from streamscribe.protocol.codec import parse_client_event, serialize
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

__all__ = [
    "ClientEvent",
    "ErrorEvent",
    "InputAudioBufferAppend",
    "InputAudioBufferCommit",
    "ServerEvent",
    "SessionCreated",
    "SessionUpdate",
    "SessionUpdated",
    "TranscriptionDelta",
    "TranscriptionDone",
    "Usage",
    "parse_client_event",
    "serialize",
]
