"""The scheduler's own rules, with a scripted recognizer (no model): batching, order, failures."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from streamscribe.audio import SAMPLE_RATE
from streamscribe.engines.base import Hypothesis, Recognizer, Stream
from streamscribe.errors import EngineError
from streamscribe.load import LoadPolicy
from streamscribe.scheduler import Scheduler


class ScriptedRecognizer(Recognizer):
    """Consumes each stream's backlog and says how much it saw; fails on request."""

    name = "scripted"

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()

    def open_stream(self, max_buffered_seconds: float, language: str | None = None) -> Stream:
        return Stream(max_buffered_seconds)

    def step(self, streams: Sequence[Stream]) -> list[Hypothesis]:
        self.gate.wait(5)
        self.batches.append(len(streams))
        if self.fail:
            raise RuntimeError("boom")
        out = []
        for stream in streams:
            taken = len(stream.backlog.take())
            final = stream.finishing and len(stream.backlog) == 0
            out.append(Hypothesis(f"{taken} ", final=final, audio_seconds=stream.audio_seconds if final else 0))
        return out

    def transcribe(self, samples, language=None) -> str:  # noqa: ANN001
        return ""


def second() -> np.ndarray:
    return np.zeros(SAMPLE_RATE, dtype=np.float32)


def collect() -> tuple[list[object], threading.Event, object]:
    results: list[object] = []
    final = threading.Event()

    def deliver(result: object) -> None:
        results.append(result)
        if isinstance(result, EngineError) or getattr(result, "final", False):
            final.set()

    return results, final, deliver


def make(recognizer: ScriptedRecognizer, max_batch: int = 16) -> Scheduler:
    scheduler = Scheduler(recognizer, policy=LoadPolicy(), max_batch=max_batch, workers=1)
    scheduler.start()
    return scheduler


def test_waiting_streams_are_batched_up_to_max_batch() -> None:
    recognizer = ScriptedRecognizer()
    recognizer.gate.clear()  # hold the worker so that every stream is ready at once
    scheduler = make(recognizer, max_batch=3)
    try:
        finals = []
        for _ in range(5):
            _, final, deliver = collect()
            handle = scheduler.open(deliver)
            handle.accept(second())
            handle.finish()
            finals.append(final)
        recognizer.gate.set()
        assert all(final.wait(5) for final in finals)
        assert max(recognizer.batches) == 3
        assert sum(recognizer.batches) >= 5
        assert scheduler.active_streams == 0  # final results unregister their streams
    finally:
        scheduler.stop()


def test_a_failing_step_is_an_error_for_its_streams_only() -> None:
    recognizer = ScriptedRecognizer()
    scheduler = make(recognizer)
    try:
        recognizer.fail = True
        results, final, deliver = collect()
        handle = scheduler.open(deliver)
        handle.accept(second())
        assert final.wait(5)
        assert isinstance(results[-1], EngineError) and results[-1].code == "processing_error"
        recognizer.fail = False  # the scheduler keeps serving others
        results, final, deliver = collect()
        handle = scheduler.open(deliver)
        handle.accept(second())
        handle.finish()
        assert final.wait(5)
        assert "".join(r.stable for r in results) == "16000 "  # type: ignore[attr-defined]
    finally:
        scheduler.stop()


def test_a_closed_stream_gets_nothing_more() -> None:
    recognizer = ScriptedRecognizer()
    scheduler = make(recognizer)
    try:
        results, _, deliver = collect()
        handle = scheduler.open(deliver)
        handle.close()
        handle.accept(second())
        handle.finish()
        scheduler.wake()
        threading.Event().wait(0.3)
        assert results == [] and scheduler.active_streams == 0
    finally:
        scheduler.stop()


def test_short_audio_waits_for_a_full_step() -> None:
    recognizer = ScriptedRecognizer()
    scheduler = make(recognizer)
    try:
        results, final, deliver = collect()
        handle = scheduler.open(deliver)
        handle.accept(np.zeros(SAMPLE_RATE // 10, dtype=np.float32))  # 0.1 s < the 0.5 s step
        threading.Event().wait(0.3)
        assert recognizer.batches == []
        handle.finish()  # the end of audio makes it ready whatever its size
        assert final.wait(5)
        assert results[-1].audio_seconds == 0.1  # type: ignore[attr-defined]
    finally:
        scheduler.stop()
