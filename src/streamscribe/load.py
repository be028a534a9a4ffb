"""How busy the inference workers are, and what follows: the step interval and admission.

Pure: every method takes the time as an argument, so the policy is tested without threads or
clocks. The scheduler records each batch it runs; the server asks ``overloaded`` before it
accepts a session.

- utilization: the share of the last ``window`` seconds the workers spent in model steps;
- step interval: ``min_step`` while utilization is below one half, rising linearly to
  ``max_step`` at full utilization. Longer steps cost less per audio second (one encoder pass
  covers more audio), so a busy server trades a little latency for capacity before it falls
  behind;
- delay: how late a stream's step started compared with when it was due (its previous step plus
  the step interval). When the largest delay of the window passes ``max_delay`` the workers no
  longer keep up with real time, and new sessions are refused before the existing ones degrade.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LoadPolicy:
    min_step: float = 0.5
    max_step: float = 1.0
    max_delay: float = 1.0
    window: float = 5.0


class LoadMonitor:
    def __init__(self, policy: LoadPolicy, workers: int = 1) -> None:
        self.policy = policy
        self.workers = workers
        self._steps: deque[tuple[float, float, float]] = deque()  # (start, end, largest delay)

    def record(self, start: float, end: float, delay: float) -> None:
        """One batch ran from ``start`` to ``end``; its most overdue stream waited ``delay`` s extra."""
        self._steps.append((start, end, max(delay, 0.0)))
        self._forget(end)

    def _forget(self, now: float) -> None:
        while self._steps and self._steps[0][1] < now - self.policy.window:
            self._steps.popleft()

    def utilization(self, now: float) -> float:
        self._forget(now)
        since = now - self.policy.window
        busy = sum(end - max(start, since) for start, end, _ in self._steps if end > since)
        return min(busy / (self.policy.window * self.workers), 1.0)

    def step_seconds(self, now: float) -> float:
        load = min(max((self.utilization(now) - 0.5) / 0.5, 0.0), 1.0)
        return self.policy.min_step + (self.policy.max_step - self.policy.min_step) * load

    def delay(self, now: float) -> float:
        self._forget(now)
        return max((d for _, _, d in self._steps), default=0.0)

    def overloaded(self, now: float) -> bool:
        return self.delay(now) > self.policy.max_delay
