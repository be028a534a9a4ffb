"""What the running app shares between connections."""

from __future__ import annotations

from dataclasses import dataclass, field

from streamscribe.config import Settings
from streamscribe.metrics import Metrics
from streamscribe.scheduler import Scheduler


@dataclass
class ServerState:
    settings: Settings
    metrics: Metrics
    schedulers: dict[str, Scheduler] = field(default_factory=dict)
    sessions: int = 0
