import pytest

from streamscribe.load import LoadMonitor, LoadPolicy

POLICY = LoadPolicy(min_step=0.5, max_step=1.5, max_delay=1.0, window=5.0)


def test_idle_server_steps_fast_and_admits() -> None:
    monitor = LoadMonitor(POLICY)
    assert monitor.utilization(100.0) == 0.0
    assert monitor.step_seconds(100.0) == 0.5
    assert not monitor.overloaded(100.0)


def test_busy_workers_stretch_the_step_interval() -> None:
    monitor = LoadMonitor(POLICY)
    for i in range(5):  # busy 0.75 s of every second
        monitor.record(100.0 + i, 100.75 + i, 0.0)
    assert monitor.utilization(105.0) == pytest.approx(0.75)
    assert monitor.step_seconds(105.0) == pytest.approx(1.0)
    for i in range(5, 10):  # now busy all the time
        monitor.record(100.0 + i, 101.0 + i, 0.0)
    assert monitor.step_seconds(110.0) == pytest.approx(1.5)


def test_utilization_is_shared_by_workers() -> None:
    monitor = LoadMonitor(POLICY, workers=2)
    monitor.record(100.0, 105.0, 0.0)
    assert monitor.utilization(105.0) == pytest.approx(0.5)


def test_late_steps_mean_overload_until_they_age_out() -> None:
    monitor = LoadMonitor(POLICY)
    monitor.record(100.0, 100.5, 0.4)
    assert not monitor.overloaded(100.5)
    monitor.record(101.0, 101.5, 1.2)
    assert monitor.overloaded(101.5)
    assert monitor.delay(103.0) == pytest.approx(1.2)
    assert not monitor.overloaded(107.0)  # the late step left the 5 s window
    assert monitor.utilization(107.0) == 0.0
