import json

import pytest

from streamscribe.errors import InvalidEventError, InvalidJSONError, MessageTooLargeError, UnknownEventError
from streamscribe.protocol import (
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    SessionCreated,
    SessionUpdate,
    TranscriptionDone,
    Usage,
    parse_client_event,
    serialize,
)


def test_parses_the_three_client_events() -> None:
    assert parse_client_event('{"type":"session.update","model":"m"}') == SessionUpdate(model="m")
    assert parse_client_event('{"type":"input_audio_buffer.append","audio":"AAA="}') == InputAudioBufferAppend(
        audio="AAA="
    )
    assert parse_client_event('{"type":"input_audio_buffer.commit"}') == InputAudioBufferCommit(final=False)
    assert parse_client_event('{"type":"input_audio_buffer.commit","final":true}').final is True  # type: ignore[union-attr]


def test_unknown_fields_are_tolerated() -> None:
    event = parse_client_event('{"type":"input_audio_buffer.commit","final":false,"event_id":"e1"}')
    assert isinstance(event, InputAudioBufferCommit)


@pytest.mark.parametrize("text", ["{", "not json", "", '{"type": "session.update",}'])
def test_invalid_json(text: str) -> None:
    with pytest.raises(InvalidJSONError) as info:
        parse_client_event(text)
    assert info.value.code == "invalid_json"


@pytest.mark.parametrize("text", ["[]", '"x"', "3", "null"])
def test_non_object_is_invalid_event(text: str) -> None:
    with pytest.raises(InvalidEventError):
        parse_client_event(text)


@pytest.mark.parametrize(
    "text", ["{}", '{"type": 3}', '{"type":"input_audio_buffer.clear"}', '{"type":"response.create"}']
)
def test_missing_or_unknown_type(text: str) -> None:
    with pytest.raises(UnknownEventError) as info:
        parse_client_event(text)
    assert info.value.message.startswith("Unknown event type")


@pytest.mark.parametrize(
    "event, message",
    [
        ({"type": "input_audio_buffer.append"}, "Missing required field: audio"),
        ({"type": "input_audio_buffer.append", "audio": 12}, "Invalid field audio"),
        ({"type": "input_audio_buffer.commit", "final": "maybe"}, "Invalid field final"),
        ({"type": "session.update", "model": 7}, "Invalid field model"),
    ],
)
def test_malformed_events(event: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidEventError) as info:
        parse_client_event(json.dumps(event))
    assert info.value.code == "invalid_event"
    assert info.value.message.startswith(message)


def test_message_size_limit() -> None:
    text = json.dumps({"type": "input_audio_buffer.append", "audio": "A" * 100})
    assert parse_client_event(text, max_bytes=len(text))
    with pytest.raises(MessageTooLargeError) as info:
        parse_client_event(text, max_bytes=len(text) - 1)
    assert info.value.code == "message_too_large"


def test_serialization_matches_vllm_shapes() -> None:
    created = json.loads(serialize(SessionCreated()))
    assert list(created) == ["type", "id", "created"]
    assert created["id"].startswith("sess-") and len(created["id"]) == 21
    done = json.loads(
        serialize(TranscriptionDone(text="hi", usage=Usage(prompt_tokens=2, total_tokens=5, completion_tokens=3)))
    )
    assert list(done["usage"])[:4] == ["prompt_tokens", "total_tokens", "completion_tokens", "prompt_tokens_details"]
    assert done["usage"]["prompt_tokens_details"] is None
    assert json.loads(serialize(ErrorEvent(error="bad", code="invalid_audio"))) == {
        "type": "error",
        "error": "bad",
        "code": "invalid_audio",
    }
