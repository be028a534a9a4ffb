"""Runs recognizer steps for every active stream on worker threads, batched, off the event loop.

The event loop only pushes audio (``StreamHandle.accept``) and flags (``finish``, ``close``);
workers pick the streams that are ready, longest-waiting first, up to ``max_batch`` at a
time, and run them through one ``Recognizer.step`` call. While a batch runs, other streams
gather audio, so the busier the server, the larger (and cheaper per stream) the next batch.
On top of that the step interval itself follows the workers' utilization (``load.py``): short
when idle, longer when busy, so one encoder pass covers more audio before anyone falls behind;
a stream that is behind takes more of its backlog per step. When steps start later than due by
more than the policy allows, ``overloaded`` tells the server to refuse new sessions.
Results go back through each handle's ``deliver`` callback, which the caller makes
thread-safe (``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from streamscribe.audio import SAMPLE_RATE, Samples
from streamscribe.engines.base import Hypothesis, Recognizer, Stream
from streamscribe.errors import EngineError
from streamscribe.load import LoadMonitor, LoadPolicy
from streamscribe.metrics import Metrics

log = logging.getLogger(__name__)

Deliver = Callable[[Hypothesis | EngineError], None]


class StreamHandle:
    """A session's grip on one registered stream."""

    def __init__(self, scheduler: Scheduler, stream: Stream, deliver: Deliver) -> None:
        self._scheduler = scheduler
        self.stream = stream
        self.deliver = deliver
        self.busy = False
        self.closed = False
        self.waiting_since = time.monotonic()
        self.ready_at: float | None = None  # when it first had a (shortest) step's worth of audio

    def accept(self, samples: Samples) -> None:
        """Queue audio (raises ``BufferFullError`` past the backlog limit) and wake a worker."""
        self.stream.accept(samples)
        if self.ready_at is None and self.stream.ready(self._scheduler.min_step_samples):
            self.ready_at = time.monotonic()
        self._scheduler.wake()

    def finish(self) -> None:
        """End of audio: the stream is flushed and delivers a final hypothesis."""
        self.stream.finishing = True
        if self.ready_at is None:
            self.ready_at = time.monotonic()
        self._scheduler.wake()

    def close(self) -> None:
        """Forget the stream; nothing more is delivered. Safe to call twice."""
        self._scheduler.remove(self)


class Scheduler:
    """Worker threads over one recognizer."""

    def __init__(
        self,
        recognizer: Recognizer,
        *,
        policy: LoadPolicy,
        max_batch: int,
        workers: int = 1,
        max_buffered_seconds: float = 300.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.load = LoadMonitor(policy, workers)
        self.min_step_samples = int(policy.min_step * SAMPLE_RATE)
        self.max_batch = max_batch
        self.max_buffered_seconds = max_buffered_seconds
        self.metrics = metrics or Metrics()
        self._handles: list[StreamHandle] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"streamscribe-worker-{i}", daemon=True) for i in range(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def open(self, deliver: Deliver, language: str | None = None) -> StreamHandle:
        handle = StreamHandle(self, self.recognizer.open_stream(self.max_buffered_seconds, language), deliver)
        with self._cond:
            self._handles.append(handle)
            self.metrics.streams_active.set(len(self._handles))
        return handle

    def remove(self, handle: StreamHandle) -> None:
        with self._cond:
            handle.closed = True
            if handle in self._handles:
                self._handles.remove(handle)
            self.metrics.streams_active.set(len(self._handles))

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    @property
    def active_streams(self) -> int:
        return len(self._handles)

    def overloaded(self) -> bool:
        """True while recent steps ran later than the policy allows: admit no new session."""
        with self._cond:
            return self.load.overloaded(time.monotonic())

    def _ready(self, step_seconds: float) -> list[StreamHandle]:
        step_samples = int(step_seconds * SAMPLE_RATE)
        ready = [h for h in self._handles if not h.busy and h.stream.ready(step_samples)]
        ready.sort(key=lambda h: h.waiting_since)
        self.metrics.ready_streams.set(len(ready))
        return ready[: self.max_batch]

    def _work(self) -> None:
        while True:
            with self._cond:
                step_seconds = self.load.step_seconds(time.monotonic())
                batch = self._ready(step_seconds)
                while not batch and not self._stopping:
                    # Wake on new audio, and at least every tenth of a second: the step interval
                    # shrinks as utilization decays, which no notify announces.
                    self._cond.wait(0.1)
                    step_seconds = self.load.step_seconds(time.monotonic())
                    batch = self._ready(step_seconds)
                if self._stopping:
                    return
                for handle in batch:
                    handle.busy = True
            started = time.monotonic()
            # How much later than due each step starts: waiting for a worker, beyond the
            # deliberate wait of a longer step interval.
            stretch = step_seconds - self.load.policy.min_step
            delay = max((started - (h.ready_at or started) - stretch for h in batch), default=0.0)
            results: list[Hypothesis | EngineError]
            try:
                results = list(self.recognizer.step([h.stream for h in batch]))
            except Exception:
                log.exception("model step failed for a batch of %d streams", len(batch))
                results = [EngineError("Transcription failed for this utterance")] * len(batch)
            finished = time.monotonic()
            self.metrics.step_seconds.observe(finished - started)
            self.metrics.batch_size.observe(len(batch))
            self.metrics.step_delay.observe(max(delay, 0.0))
            with self._cond:
                self.load.record(started, finished, delay)
                self.metrics.utilization.set(self.load.utilization(finished))
                self.metrics.step_interval.set(self.load.step_seconds(finished))
                for handle, result in zip(batch, results, strict=True):
                    handle.busy = False
                    handle.waiting_since = finished
                    handle.ready_at = finished if handle.stream.ready(self.min_step_samples) else None
                    if (isinstance(result, EngineError) or result.final) and handle in self._handles:
                        self._handles.remove(handle)
                self.metrics.streams_active.set(len(self._handles))
                self.metrics.backlog_seconds.set(max((h.stream.backlog.seconds for h in self._handles), default=0.0))
                self._cond.notify_all()
            for handle, result in zip(batch, results, strict=True):
                if not handle.closed:  # closed: the session went away during the step
                    handle.deliver(result)
