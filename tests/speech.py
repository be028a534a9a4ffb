"""Test speech synthesised on the spot with hibari-tts (its voice ships in the wheel; no download)."""

from __future__ import annotations

import functools
import re

import numpy as np

from streamscribe.audio import SAMPLE_RATE, Samples, resample

#: Harvard sentences (IEEE 1969, public domain), grouped into short paragraphs.
PARAGRAPHS: tuple[str, ...] = (
    "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
    "It is easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish. Rice is often served in round bowls. "
    "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck. The hogs were fed chopped corn and garbage. "
    "Four hours of steady work faced us.",
    "A large size in stockings is hard to sell. The boy was there when the sun rose. "
    "A rod is used to catch pink salmon.",
)


@functools.cache
def _voice():  # noqa: ANN202 - hibari.Hibari
    from hibari import Hibari

    return Hibari()


@functools.cache
def synthesize(text: str, pause_seconds: float = 0.3) -> Samples:
    """16 kHz mono speech for ``text``, with a little silence before and after, deterministic."""
    audio = resample(np.asarray(_voice()(text, seed=0), dtype=np.float32), 24_000, SAMPLE_RATE)
    pause = np.zeros(int(pause_seconds * SAMPLE_RATE), dtype=np.float32)
    return np.concatenate([pause, audio, pause])


def normalize(text: str) -> str:
    """Lower case, punctuation stripped, single spaces: what WER is computed on."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return float(jiwer.wer(normalize(reference), normalize(hypothesis)))
