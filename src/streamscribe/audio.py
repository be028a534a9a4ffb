"""Audio at the edges: base64 PCM16 to float32, resampling, files, and the bounded backlog.

Everything inside streamscribe is float32 mono at ``SAMPLE_RATE`` in [-1, 1).
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import deque
from pathlib import Path

import numpy as np
import numpy.typing as npt

from streamscribe.errors import BufferFullError, InvalidAudioError

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]


def decode_pcm16_base64(data: str) -> Samples:
    """Base64 PCM16 little-endian to float32.

    Strict where vLLM is lax: characters outside the base64 alphabet, an empty payload or an odd
    byte count are errors rather than silently dropped or misread audio.
    """
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAudioError("Invalid audio data: not valid base64") from None
    if not raw:
        raise InvalidAudioError("Invalid audio data: empty audio")
    if len(raw) % 2:
        raise InvalidAudioError("Invalid audio data: PCM16 needs an even number of bytes")
    return pcm16_to_float32(raw)


def pcm16_to_float32(raw: bytes) -> Samples:
    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def float32_to_pcm16(samples: npt.NDArray[np.floating]) -> bytes:
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 32767 / 32768)
    return (clipped * 32768.0).round().astype("<i2").tobytes()


def encode_pcm16_base64(samples: npt.NDArray[np.floating]) -> str:
    return base64.b64encode(float32_to_pcm16(samples)).decode("ascii")


def resample(samples: npt.NDArray[np.floating], from_rate: int, to_rate: int = SAMPLE_RATE) -> Samples:
    """High-quality resampling (libsoxr); a no-op when the rates match."""
    mono = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate:
        return mono
    import soxr

    return np.asarray(soxr.resample(mono, from_rate, to_rate), dtype=np.float32)


def to_mono(samples: npt.NDArray[np.floating]) -> Samples:
    """Average channels of a ``(frames, channels)`` array."""
    array = np.asarray(samples, dtype=np.float32)
    return array if array.ndim == 1 else array.mean(axis=1, dtype=np.float32)


def load_audio_file(path: str | Path) -> Samples:
    """Any common audio file to 16 kHz mono float32 (libsndfile first, then FFmpeg via PyAV)."""
    import soundfile

    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=False)
    except soundfile.LibsndfileError:
        from faster_whisper.audio import decode_audio

        return np.asarray(decode_audio(str(path), sampling_rate=SAMPLE_RATE), dtype=np.float32)
    return resample(to_mono(data), int(rate))


class AudioBacklog:
    """Audio received for a stream and not yet consumed by the engine, bounded in seconds.

    Written by the event loop (``push``) and read by an inference worker (``take``), hence the
    lock. Refusing a push is the backpressure: the client gets ``buffer_full`` for that append
    and the audio already accepted is kept.
    """

    def __init__(self, max_seconds: float) -> None:
        self.max_samples = int(max_seconds * SAMPLE_RATE)
        self._chunks: deque[Samples] = deque()
        self._size = 0
        self._lock = threading.Lock()

    def push(self, samples: Samples) -> None:
        with self._lock:
            if self._size + len(samples) > self.max_samples:
                raise BufferFullError(
                    "buffered audio", (self._size + len(samples)) / SAMPLE_RATE, self.max_samples / SAMPLE_RATE
                )
            self._chunks.append(samples)
            self._size += len(samples)

    def take(self, max_samples: int | None = None) -> Samples:
        """Remove and return up to ``max_samples`` (all when ``None``), oldest first.

        Only the chunks taken are copied: a client far ahead of the engine (a file sent at full
        speed) holds minutes here, and each step takes a couple of seconds of it.
        """
        with self._lock:
            wanted = self._size if max_samples is None else min(max_samples, self._size)
            taken: list[Samples] = []
            got = 0
            while got < wanted:
                chunk = self._chunks.popleft()
                if got + len(chunk) > wanted:
                    cut = wanted - got
                    self._chunks.appendleft(chunk[cut:])
                    chunk = chunk[:cut]
                taken.append(chunk)
                got += len(chunk)
            self._size -= got
            if not taken:
                return np.zeros(0, dtype=np.float32)
            return np.concatenate(taken) if len(taken) > 1 else taken[0]

    def __len__(self) -> int:
        return self._size

    @property
    def seconds(self) -> float:
        return self._size / SAMPLE_RATE
