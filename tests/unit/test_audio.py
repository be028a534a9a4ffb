import base64

import numpy as np
import pytest

from streamscribe.audio import (
    SAMPLE_RATE,
    AudioBacklog,
    decode_pcm16_base64,
    encode_pcm16_base64,
    float32_to_pcm16,
    load_audio_file,
    resample,
)
from streamscribe.errors import BufferFullError, InvalidAudioError


def test_pcm16_round_trip() -> None:
    samples = np.array([0.0, 0.5, -0.5, -1.0, 0.99], dtype=np.float32)
    decoded = decode_pcm16_base64(encode_pcm16_base64(samples))
    assert decoded.dtype == np.float32
    np.testing.assert_allclose(decoded, samples, atol=1 / 32768)


def test_little_endian_and_scale() -> None:
    raw = (1000).to_bytes(2, "little", signed=True) + (-32768).to_bytes(2, "little", signed=True)
    np.testing.assert_allclose(decode_pcm16_base64(base64.b64encode(raw).decode()), [1000 / 32768, -1.0])


def test_clipping_on_encode() -> None:
    assert float32_to_pcm16(np.array([2.0, -2.0])) == (32767).to_bytes(2, "little", signed=True) + (-32768).to_bytes(
        2, "little", signed=True
    )


@pytest.mark.parametrize(
    "payload, reason",
    [("@@@@", "base64"), ("AAA", "base64"), ("", "empty"), (base64.b64encode(b"abc").decode(), "even")],
)
def test_bad_audio(payload: str, reason: str) -> None:
    with pytest.raises(InvalidAudioError) as info:
        decode_pcm16_base64(payload)
    assert info.value.code == "invalid_audio"
    assert reason in info.value.message


@pytest.mark.parametrize("rate", [8_000, 22_050, 24_000, 44_100, 48_000])
def test_resample_to_16k_keeps_duration_and_pitch(rate: int) -> None:
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = resample(tone, rate)
    assert abs(len(out) - SAMPLE_RATE) <= 2
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(out) - 440) < 3


def test_resample_same_rate_is_identity() -> None:
    samples = np.ones(10, dtype=np.float32)
    assert resample(samples, SAMPLE_RATE) is samples


def test_load_audio_file_any_rate_and_channels(tmp_path) -> None:  # noqa: ANN001
    import soundfile

    rate = 44_100
    stereo = np.stack([np.full(rate, 0.25), np.full(rate, 0.75)], axis=1).astype(np.float32)
    path = tmp_path / "stereo.flac"
    soundfile.write(path, stereo, rate)
    mono = load_audio_file(path)
    assert abs(len(mono) - SAMPLE_RATE) <= 2
    assert abs(float(np.median(mono)) - 0.5) < 0.01


def test_backlog_is_bounded_and_keeps_what_it_accepted() -> None:
    backlog = AudioBacklog(max_seconds=1.0)
    backlog.push(np.zeros(SAMPLE_RATE // 2, dtype=np.float32))
    backlog.push(np.ones(SAMPLE_RATE // 2, dtype=np.float32))
    with pytest.raises(BufferFullError) as info:
        backlog.push(np.zeros(1, dtype=np.float32))
    assert info.value.code == "buffer_full" and info.value.limit == 1.0
    assert backlog.seconds == 1.0
    head = backlog.take(SAMPLE_RATE // 4)
    assert len(head) == SAMPLE_RATE // 4 and not head.any()
    rest = backlog.take()
    assert len(rest) == 3 * SAMPLE_RATE // 4 and rest[-1] == 1.0
    assert len(backlog) == 0 and len(backlog.take()) == 0
