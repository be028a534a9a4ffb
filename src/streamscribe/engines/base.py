"""The seam between the server and a recognizer family.

A ``Recognizer`` is loaded once and shared by every session; each utterance opens a
``Stream``. The scheduler calls ``Recognizer.step`` with a batch of streams that have new
audio, so an engine that can batch (Whisper on CTranslate2) runs them in one model call.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from streamscribe.audio import SAMPLE_RATE, AudioBacklog, Samples


@dataclass(frozen=True)
class Hypothesis:
    """What one step produced for one stream.

    Attributes:
        stable: text that became stable in this step (append-only; may be empty).
        tentative: the current unstable tail, which later steps may still change.
        final: the stream has consumed all its audio and will produce nothing more.
        tokens: model tokens behind ``stable`` (for usage accounting).
        audio_seconds: audio the stream accepted in all (set on the final hypothesis).
    """

    stable: str
    tentative: str = ""
    final: bool = False
    tokens: int = 0
    audio_seconds: float = 0.0


class Stream:
    """One utterance's recognition state. ``accept`` runs on the event loop, the rest on a worker."""

    def __init__(self, max_buffered_seconds: float) -> None:
        self.backlog = AudioBacklog(max_buffered_seconds)
        self.finishing = False
        self.audio_samples = 0

    def accept(self, samples: Samples) -> None:
        """Queue audio; raises ``BufferFullError`` when the backlog limit would be passed."""
        self.backlog.push(samples)
        self.audio_samples += len(samples)

    @property
    def audio_seconds(self) -> float:
        return self.audio_samples / SAMPLE_RATE

    def ready(self, step_samples: int) -> bool:
        """Worth a model call: enough new audio, or the end of audio to flush."""
        return self.finishing or len(self.backlog) >= step_samples


class Recognizer(abc.ABC):
    """A loaded model. Thread-safe: workers call ``step`` concurrently on disjoint streams."""

    name: str

    @abc.abstractmethod
    def open_stream(self, max_buffered_seconds: float, language: str | None = None) -> Stream: ...

    @abc.abstractmethod
    def step(self, streams: Sequence[Stream]) -> list[Hypothesis]:
        """Advance each stream over (some of) its backlog; one hypothesis per stream."""

    @abc.abstractmethod
    def transcribe(self, samples: Samples, language: str | None = None) -> str:
        """Whole-buffer offline transcription (file endpoint, accuracy baselines)."""

    def warm_up(self) -> None:
        """Run once at start so the first client does not pay for lazy initialisation."""
        stream = self.open_stream(max_buffered_seconds=2.0)
        stream.accept(np.zeros(SAMPLE_RATE, dtype=np.float32))
        stream.finishing = True
        self.step([stream])
