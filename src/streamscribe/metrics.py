"""Prometheus metrics, one registry per app so tests can run several servers in one process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric the server exports at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.sessions_active = Gauge(
            "streamscribe_sessions_active", "Realtime sessions now open", registry=self.registry
        )
        self.sessions_total = Counter(
            "streamscribe_sessions_total", "Realtime sessions accepted", registry=self.registry
        )
        self.sessions_rejected = Counter(
            "streamscribe_sessions_rejected_total",
            "Realtime sessions refused, by reason (too_many_sessions, server_overloaded)",
            ["reason"],
            registry=self.registry,
        )
        self.errors = Counter(
            "streamscribe_errors_total", "Error events sent, by code", ["code"], registry=self.registry
        )
        self.utterances = Counter(
            "streamscribe_utterances_total", "Utterances finished with transcription.done", registry=self.registry
        )
        self.audio_seconds = Counter(
            "streamscribe_audio_seconds_total", "Audio seconds received", registry=self.registry
        )
        self.step_seconds = Histogram(
            "streamscribe_step_seconds",
            "Duration of one batched model step",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5),
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "streamscribe_batch_size",
            "Streams decoded together in one step",
            buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32),
            registry=self.registry,
        )
        self.streams_active = Gauge(
            "streamscribe_streams_active", "Streams registered with the scheduler", registry=self.registry
        )
        self.ready_streams = Gauge(
            "streamscribe_ready_streams",
            "Streams with a step's worth of audio waiting (queue depth)",
            registry=self.registry,
        )
        self.step_delay = Histogram(
            "streamscribe_step_delay_seconds",
            "How much later than due a batch started (its most overdue stream)",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
            registry=self.registry,
        )
        self.utilization = Gauge(
            "streamscribe_worker_utilization",
            "Share of the last seconds the workers spent in model steps",
            registry=self.registry,
        )
        self.step_interval = Gauge(
            "streamscribe_step_interval_seconds", "Current adaptive step interval", registry=self.registry
        )
        self.backlog_seconds = Gauge(
            "streamscribe_backlog_seconds_max",
            "Largest audio backlog of any stream after the last step (real-time lag)",
            registry=self.registry,
        )
