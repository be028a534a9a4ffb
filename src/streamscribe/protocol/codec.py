"""Text frames to typed client events and back; every malformed input becomes a coded error."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from streamscribe.errors import InvalidEventError, InvalidJSONError, MessageTooLargeError, UnknownEventError
from streamscribe.protocol.events import CLIENT_EVENT_TYPES, ClientEvent, ServerEvent

_client_event: TypeAdapter[Any] = TypeAdapter(ClientEvent)


def parse_client_event(text: str, max_bytes: int | None = None) -> ClientEvent:
    """Parse one text frame.

    Raises:
        MessageTooLargeError: the frame is longer than ``max_bytes``.
        InvalidJSONError: not JSON.
        InvalidEventError: JSON but not an object, or an event missing/mistyping a field.
        UnknownEventError: ``type`` missing or not one we know.
    """
    if max_bytes is not None and len(text) > max_bytes:
        # len(str) <= len(utf-8 bytes); base64 JSON is ASCII, so this is the byte size in practice.
        raise MessageTooLargeError("message", len(text), max_bytes)
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise InvalidJSONError("Invalid JSON") from None
    if not isinstance(raw, dict):
        raise InvalidEventError(f"An event must be a JSON object, got {type(raw).__name__}")
    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in CLIENT_EVENT_TYPES:
        raise UnknownEventError(f"Unknown event type: {event_type}")
    try:
        event: ClientEvent = _client_event.validate_python(raw)
    except ValidationError as exc:
        raise InvalidEventError(_describe(exc)) from None
    return event


def _describe(exc: ValidationError) -> str:
    """A one-line, client-safe summary: which field, what was wrong."""
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"][1:]) or "event"
    if first["type"] == "missing":
        return f"Missing required field: {field}"
    return f"Invalid field {field}: {first['msg']}"


def serialize(event: ServerEvent) -> str:
    """Compact JSON in declaration order, ``null`` fields included, as vLLM sends."""
    return event.model_dump_json()
