"""`make run` starts a process that died again, after a backoff that grows and resets."""

from tools.localrun import Backoff


def test_restarts_back_off_doubling_to_a_cap_and_reset_after_a_healthy_minute() -> None:
    backoff = Backoff(base_s=1, max_s=8, healthy_after_s=60)
    backoff.started(0)
    delays = []
    now = 0.0
    for _ in range(6):  # dies at once after every start
        delays.append(backoff.died(now))
        assert not backoff.due(now)
        now += delays[-1]
        assert backoff.due(now)
        backoff.started(now)
    assert delays == [1, 2, 4, 8, 8, 8]
    now += 61  # ran a minute: healthy
    assert backoff.died(now) == 1
