"""The session state machine, driven without sockets or a model."""

import numpy as np
import pytest

from streamscribe.audio import SAMPLE_RATE, encode_pcm16_base64
from streamscribe.engines.base import Hypothesis
from streamscribe.errors import (
    AppendTooLargeError,
    BufferFullError,
    EngineError,
    InvalidAudioError,
    InvalidStateError,
    ModelNotFoundError,
)
from streamscribe.protocol import (
    ErrorEvent,
    InputAudioBufferAppend,
    InputAudioBufferCommit,
    SessionUpdate,
    SessionUpdated,
    TranscriptionDelta,
    TranscriptionDone,
)
from streamscribe.session import CloseStream, FeedAudio, FinishStream, OpenStream, Session, SessionLimits, State

MODEL = "whisper-tiny.en"


def new_session(**limits: float) -> Session:
    return Session(frozenset({MODEL, "other"}), MODEL, SessionLimits(**limits))


def append(seconds: float = 0.1) -> InputAudioBufferAppend:
    return InputAudioBufferAppend(audio=encode_pcm16_base64(np.zeros(int(seconds * SAMPLE_RATE), np.float32)))


COMMIT = InputAudioBufferCommit()
FINAL = InputAudioBufferCommit(final=True)


def kinds(outputs: list[object]) -> list[type]:
    return [type(o) for o in outputs]


def streaming() -> Session:
    session = new_session()
    session.handle(COMMIT)
    return session


def finishing() -> Session:
    session = streaming()
    session.handle(append())
    session.handle(FINAL)
    return session


# -- IDLE ------------------------------------------------------------------------------------------


def test_idle_commit_opens_an_utterance() -> None:
    session = new_session()
    assert session.handle(COMMIT) == [OpenStream(1, MODEL, None)]
    assert session.state is State.STREAMING


def test_idle_append_opens_an_utterance_and_feeds_it() -> None:
    session = new_session()
    assert kinds(session.handle(append())) == [OpenStream, FeedAudio]
    assert session.state is State.STREAMING


def test_idle_final_commit_is_a_state_error() -> None:
    session = new_session()
    with pytest.raises(InvalidStateError) as info:
        session.handle(FINAL)
    assert info.value.code == "invalid_state"
    assert session.state is State.IDLE


@pytest.mark.parametrize("make", [new_session, streaming, finishing])
def test_session_update_in_every_state(make) -> None:  # noqa: ANN001
    session = make()
    state = session.state
    assert session.handle(SessionUpdate(model="other", language="en")) == [
        SessionUpdated(id=session.id, model="other", language="en")
    ]
    assert session.state is state and session.model == "other"
    assert session.handle(SessionUpdate(model=""))[0].model == MODEL  # type: ignore[union-attr]  # "" = default
    assert session.handle(SessionUpdate())[0].model == MODEL  # type: ignore[union-attr]  # no model: keep it


def test_unknown_model_keeps_the_current_one() -> None:
    session = new_session()
    with pytest.raises(ModelNotFoundError) as info:
        session.handle(SessionUpdate(model="nope"))
    assert "nope" in info.value.message and info.value.code == "model_not_found"
    assert session.model == MODEL


def test_model_applies_to_the_next_utterance() -> None:
    session = new_session()
    session.handle(SessionUpdate(model="other"))
    assert session.handle(COMMIT) == [OpenStream(1, "other", None)]


# -- STREAMING -------------------------------------------------------------------------------------


def test_streaming_append_feeds() -> None:
    session = streaming()
    assert kinds(session.handle(append())) == [FeedAudio]


def test_streaming_commit_is_ignored_as_in_vllm() -> None:
    session = streaming()
    assert session.handle(COMMIT) == []
    assert session.state is State.STREAMING


def test_streaming_final_commit_finishes() -> None:
    session = streaming()
    assert session.handle(FINAL) == [FinishStream(1)]
    assert session.state is State.FINISHING


@pytest.mark.parametrize("make", [new_session, streaming, finishing])
def test_bad_audio_in_every_state_leaves_state_alone(make) -> None:  # noqa: ANN001
    session = make()
    state = session.state
    with pytest.raises(InvalidAudioError):
        session.handle(InputAudioBufferAppend(audio="not base64!"))
    assert session.state is state


def test_append_size_limit() -> None:
    session = new_session(max_append_seconds=1.0)
    session.handle(append(1.0))
    with pytest.raises(AppendTooLargeError) as info:
        session.handle(append(1.5))
    assert info.value.code == "append_too_large" and info.value.limit == 1.0


# -- FINISHING -------------------------------------------------------------------------------------


def test_finishing_holds_audio_and_commits_for_the_next_utterance() -> None:
    session = finishing()
    assert session.handle(append()) == []
    assert session.handle(COMMIT) == []
    assert session.handle(FINAL) == []  # a final for the next utterance
    out = session.on_hypothesis(1, Hypothesis("done", final=True))
    assert kinds(out) == [TranscriptionDelta, TranscriptionDone, OpenStream, FeedAudio, FinishStream]
    assert session.utterance == 2 and session.state is State.FINISHING


def test_finishing_final_without_anything_new_is_a_state_error() -> None:
    session = finishing()
    with pytest.raises(InvalidStateError):
        session.handle(FINAL)
    assert session.state is State.FINISHING


def test_audio_held_during_finishing_is_bounded() -> None:
    session = Session(frozenset({MODEL}), MODEL, SessionLimits(max_pending_seconds=0.25))
    session.handle(COMMIT)
    session.handle(FINAL)
    session.handle(append(0.2))
    with pytest.raises(BufferFullError):
        session.handle(append(0.1))


def test_audio_after_done_opens_the_next_utterance_with_it() -> None:
    session = finishing()
    session.handle(append())
    out = session.on_hypothesis(1, Hypothesis("", final=True))
    assert kinds(out) == [TranscriptionDone, OpenStream, FeedAudio]
    assert session.state is State.STREAMING


# -- engine results --------------------------------------------------------------------------------


def test_deltas_concatenate_to_done_text() -> None:
    session = streaming()
    session.handle(append())
    out = session.on_hypothesis(1, Hypothesis(" Hello", tokens=1))
    out += session.on_hypothesis(1, Hypothesis("", tentative=" wor"))
    out += session.on_hypothesis(1, Hypothesis(" world.", tokens=2))
    session.handle(FINAL)
    out += session.on_hypothesis(1, Hypothesis(" Bye", final=True, tokens=1, audio_seconds=0.1))
    deltas = [o.delta for o in out if isinstance(o, TranscriptionDelta)]
    assert deltas == ["Hello", " world.", " Bye"]  # leading space of the utterance dropped; no empty delta
    done = out[-1]
    assert isinstance(done, TranscriptionDone)
    assert done.text == "".join(deltas) == "Hello world. Bye"
    assert done.usage.completion_tokens == 4
    assert done.usage.total_tokens == done.usage.prompt_tokens + 4
    assert done.usage.audio_seconds == 0.1
    assert done.usage.prompt_tokens == 5  # 50 encoder positions per second
    assert session.state is State.IDLE


def test_empty_utterance_gives_an_empty_done() -> None:
    session = streaming()
    session.handle(FINAL)
    out = session.on_hypothesis(1, Hypothesis("", final=True))
    assert kinds(out) == [TranscriptionDone]
    assert out[0].text == ""  # type: ignore[union-attr]


def test_late_results_of_an_old_utterance_are_dropped() -> None:
    session = finishing()
    session.on_hypothesis(1, Hypothesis("a", final=True))
    session.handle(COMMIT)
    assert session.on_hypothesis(1, Hypothesis("stale")) == []
    assert session.on_hypothesis(2, Hypothesis("fresh")) == [TranscriptionDelta(delta="fresh")]


def test_engine_error_ends_the_utterance_with_an_error_event() -> None:
    session = finishing()
    out = session.on_engine_error(1, EngineError("boom"))
    assert out == [ErrorEvent(error="boom", code="processing_error")]
    assert session.state is State.IDLE
    assert kinds(session.handle(COMMIT)) == [OpenStream]


def test_close_releases_the_stream() -> None:
    assert new_session().close() == []
    session = streaming()
    assert session.close() == [CloseStream(1)]
    assert finishing().close() == [CloseStream(1)]
