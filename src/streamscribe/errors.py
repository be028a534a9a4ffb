"""The one error tree of streamscribe, and its single mapping to the wire.

    StreamscribeError
    ├── ClientError            the peer's fault; answered with an ``error`` event, session goes on
    │   ├── InvalidJSONError         code invalid_json        (vLLM)
    │   ├── InvalidEventError        code invalid_event       (vLLM)
    │   ├── UnknownEventError        code unknown_event       (vLLM)
    │   ├── InvalidAudioError        code invalid_audio       (vLLM)
    │   ├── ModelNotFoundError       code model_not_found     (vLLM)
    │   ├── InvalidFrameError        code invalid_frame       (ours: binary frame)
    │   ├── InvalidStateError        code invalid_state       (ours: event not allowed now)
    │   ├── IdleTimeoutError         code idle_timeout        (ours: closed after silence)
    │   ├── SlowClientError          code slow_client         (ours: events not read)
    │   └── LimitError               a configured limit was exceeded
    │       ├── MessageTooLargeError code message_too_large
    │       ├── AppendTooLargeError  code append_too_large
    │       └── BufferFullError      code buffer_full
    └── ServerError            ours; answered with ``processing_error`` (vLLM), never a crash
        ├── EngineError              the recognizer failed on this stream
        ├── CapacityError            code too_many_sessions (ours: refused at max sessions)
        └── OverloadedError          code server_overloaded (ours: refused, workers behind real time)

Every leaf carries a class-level ``code``; messages are written here, never ``str()`` of a
foreign exception, so nothing internal (paths, addresses) leaks to clients.
"""

from __future__ import annotations


class StreamscribeError(Exception):
    """Root of every error streamscribe raises on purpose."""

    code: str = "processing_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(StreamscribeError):
    """The client sent something we cannot accept; the session stays usable."""


class InvalidJSONError(ClientError):
    code = "invalid_json"


class InvalidEventError(ClientError):
    code = "invalid_event"


class UnknownEventError(ClientError):
    code = "unknown_event"


class InvalidAudioError(ClientError):
    code = "invalid_audio"


class ModelNotFoundError(ClientError):
    code = "model_not_found"

    def __init__(self, model: str) -> None:
        super().__init__(f"The model `{model}` does not exist.")
        self.model = model


class InvalidFrameError(ClientError):
    code = "invalid_frame"


class InvalidStateError(ClientError):
    code = "invalid_state"


class IdleTimeoutError(ClientError):
    code = "idle_timeout"


class SlowClientError(ClientError):
    code = "slow_client"


class LimitError(ClientError):
    """A configured limit was exceeded; carries the limit and the offending amount."""

    unit: str = ""

    def __init__(self, what: str, actual: float, limit: float) -> None:
        super().__init__(f"{what} exceeds the limit: {actual:g} > {limit:g} {self.unit}".rstrip())
        self.actual = actual
        self.limit = limit


class MessageTooLargeError(LimitError):
    code = "message_too_large"
    unit = "bytes"


class AppendTooLargeError(LimitError):
    code = "append_too_large"
    unit = "seconds"


class BufferFullError(LimitError):
    code = "buffer_full"
    unit = "seconds"


class ServerError(StreamscribeError):
    """Our fault; reported as vLLM's ``processing_error``."""

    code = "processing_error"


class EngineError(ServerError):
    """The recognizer failed while transcribing one stream."""


class CapacityError(ServerError):
    """The server already holds its maximum of sessions."""

    code = "too_many_sessions"


class OverloadedError(ServerError):
    """The workers run behind real time; a new session would degrade everyone's latency."""

    code = "server_overloaded"


#: Every code this server can send, for the README and for tests that check the list.
ERROR_CODES: tuple[str, ...] = (
    "invalid_json",
    "invalid_event",
    "unknown_event",
    "invalid_audio",
    "model_not_found",
    "processing_error",
    "invalid_frame",
    "invalid_state",
    "idle_timeout",
    "slow_client",
    "too_many_sessions",
    "server_overloaded",
    "message_too_large",
    "append_too_large",
    "buffer_full",
)
