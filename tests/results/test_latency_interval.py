"""Latency you can trust on a real board (issue #15): the median's 95 % bootstrap interval,
outlier runs, and a --fail-if gate that ignores changes inside A's interval."""

from __future__ import annotations

import numpy as np
import pytest

from mcubench.bench.collect import Latency
from mcubench.results.compare import check, compare, parse_thresholds
from mcubench.results.schema import validate

from results_records import make_record


def cycles(runs: list[float]) -> Latency:
    return Latency(unit="cycles", source="dwt", resolution=1, warmup=1, runs=runs, ticks=[int(r) for r in runs])


def board_record(runs: list[float]) -> dict:
    lat = cycles(runs).to_dict()
    return make_record("hardware", changes={"latency": lat, "cycles": round(lat["median"]),
                                            "latency_ms": lat["median"] / 64e6 * 1000})


def noisy(median: float, spread: float, n: int, seed: int) -> list[float]:
    return [float(round(v)) for v in np.random.default_rng(seed).normal(median, spread, n)]


def test_equal_runs_have_a_zero_width_interval_and_no_outliers():
    lat = cycles([5160.0] * 5)
    assert lat.ci95() == (5160, 5160) and lat.outliers() == []


def test_the_interval_brackets_the_median_and_is_the_same_every_time():
    runs = noisy(1_000_000, 20_000, 30, seed=1)
    lat = cycles(runs)
    low, high = lat.ci95()
    assert min(runs) <= low < lat.median < high <= max(runs)
    assert (low, high) == cycles(list(runs)).ci95()
    # Wider spread, wider interval.
    wide_low, wide_high = cycles(noisy(1_000_000, 200_000, 30, seed=1)).ci95()
    assert wide_high - wide_low > 5 * (high - low)


def test_outliers_are_runs_beyond_tukeys_fences():
    assert cycles([1000, 1002, 998, 1001, 999, 1400]).outliers() == [5]
    assert cycles([1000, 1002, 998]).outliers() == []  # too few runs to tell


def test_records_with_an_interval_are_valid():
    validate(board_record(noisy(1_000_000, 20_000, 10, seed=2)))


@pytest.mark.parametrize("spread, expect_regression", [(2_000, True), (300_000, False)])
def test_significant_gate_fails_only_outside_as_interval(spread, expect_regression):
    a = board_record(noisy(1_000_000, spread, 7, seed=3))
    b = board_record([r * 1.05 for r in a["latency"]["runs"]])  # the median 5 % slower
    thresholds = parse_thresholds(["latency>+3%"])
    plain = check(compare(a, b), thresholds)[0]
    assert plain.exceeded  # +5 % > +3 %, whatever the noise
    gated = check(compare(a, b), thresholds, significant=True)[0]
    assert gated.exceeded is expect_regression
    assert ("outside" if expect_regression else "inside") in gated.detail


def test_runs_one_timer_tick_apart_are_not_outliers():
    """An emulator's runs differ only by where the 40-instruction SysTick fell."""
    runs = [5_944_080, 5_944_080, 5_944_080, 5_944_040, 5_944_080]
    ticked = Latency(unit="instructions", source="qemu-icount", resolution=40, warmup=1, runs=runs, ticks=[r // 40 for r in runs])
    assert ticked.outliers() == []
    runs[3] = 5_944_000  # two ticks away: something happened in that run
    ticked = Latency(unit="instructions", source="qemu-icount", resolution=40, warmup=1, runs=runs, ticks=[r // 40 for r in runs])
    assert ticked.outliers() == [3]
