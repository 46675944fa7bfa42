"""The bench's own arithmetic: summaries, ratios, /proc readings, the fake model's timing.

Fast: nothing is started. The bench itself runs in ``test_bench_quick.py`` (marker ``bench``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.fake_model import Timing
from bench.report import Goal, Results
from bench.seed import Layout
from bench.stats import (
    cpu_seconds,
    parse_cpu_ticks,
    parse_status_kib,
    percentile,
    ratio,
    rss_kib,
    summarize,
)
from tests.fakes.echo import text_deltas

#: A real /proc/<pid>/stat line whose command name holds spaces and parentheses.
STAT_LINE = (
    "4242 (uvicorn (worker) 1) S 1 4242 4242 0 -1 4194560 2786 0 0 0 "
    "1234 567 0 0 20 0 3 0 8721 254803968 12000 18446744073709551615 1 1 0 0 0 0 0 "
    "16781312 17410 0 0 0 17 1 0 0 0 0 0"
)


def test_cpu_ticks_are_utime_plus_stime_even_with_parentheses_in_the_name() -> None:
    assert parse_cpu_ticks(STAT_LINE) == 1234 + 567


def test_the_cpu_time_of_this_process_grows_with_work() -> None:
    before = cpu_seconds(os.getpid())
    assert sum(range(5_000_000)) > 0  # about 0.1 s of CPU, ten clock ticks
    assert cpu_seconds(os.getpid()) > before


def test_status_fields_are_read_in_kib(tmp_path: Path) -> None:
    status = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n"
    assert parse_status_kib(status, "VmRSS") == 102400
    assert parse_status_kib(status, "VmHWM") == 204800
    with pytest.raises(ValueError, match="VmSwap"):
        parse_status_kib(status, "VmSwap")
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "status").write_text(status)
    assert rss_kib(7, proc=tmp_path) == 102400
    assert rss_kib(os.getpid()) > 1000


def test_percentiles_interpolate_between_ranks() -> None:
    samples = [4.0, 1.0, 3.0, 2.0, 5.0]
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 1) == 5.0
    assert percentile(samples, 0.5) == 3.0
    assert percentile(samples, 0.95) == pytest.approx(4.8)
    assert percentile([7.0], 0.95) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)
    with pytest.raises(ValueError):
        percentile(samples, 1.5)


def test_a_summary_has_the_median_and_the_extremes() -> None:
    summary = summarize([3.0, 1.0, 2.0, 10.0])
    assert (summary.median, summary.low, summary.high, summary.count) == (2.5, 1.0, 10.0, 4)
    assert ratio(3.0, 1.5) == 2.0
    assert ratio(1.0, 0.0) is None


def test_ratios_to_the_baseline_are_taken_round_by_round() -> None:
    results = Results(["sqlite", "quickstart"])
    # The machine got twice as slow in round 2: each round's ratio is still 0.5.
    for sqlite, quickstart in ((1.0, 2.0), (2.0, 4.0), (1.5, 3.0)):
        results.add("items.list@100", "sqlite", {"cpu": sqlite})
        results.add("items.list@100", "quickstart", {"cpu": quickstart})
    paired = results.paired_ratio("items.list@100", "sqlite", "cpu")
    assert paired is not None
    assert (paired.median, paired.low, paired.high) == (0.5, 0.5, 0.5)
    summary = results.summary("items.list@100", "quickstart", "cpu")
    assert summary is not None
    assert (summary.median, summary.low, summary.high) == (3.0, 2.0, 4.0)
    assert results.summary("items.list@100", "sqlite", "wall") is None


def test_growth_compares_two_sizes_of_one_backend() -> None:
    results = Results(["sqlite"])
    for small, large in ((1.0, 1.1), (2.0, 2.0)):
        results.add("items.list@100", "sqlite", {"cpu": small})
        results.add("items.list@100000", "sqlite", {"cpu": large})
    growth = results.growth("items.list@100", "items.list@100000", "sqlite", "cpu")
    assert growth is not None
    assert growth.median == pytest.approx(1.05)


def test_goals_say_met_or_missed() -> None:
    assert Goal("cpu", 0.5, 0.6).met is True
    assert "MISSED" in Goal("cpu", 0.7, 0.6).line()
    assert Goal("overhead", 0.012, 0.012, strict=True, unit="ms").met is False
    assert Goal("errors", None, 0, unit="n").met is None


def test_the_fake_models_own_time_is_known() -> None:
    timing = Timing(first_token_ms=20, token_ms=5, tokens=24)
    assert len(text_deltas(timing.reply)) == 24
    assert timing.model_seconds == pytest.approx(0.020 + 23 * 0.005)
    assert timing.first_token_seconds == pytest.approx(0.020)


def test_the_seed_layout_names_each_thread_once() -> None:
    layout = Layout(threads=20, sizes=(100, 10_000), turn_threads=5)
    ids = [layout.sized_thread(100), layout.sized_thread(10_000)]
    ids += [layout.turn_thread(index) for index in range(5)]
    assert len(set(ids)) == 7
    assert all(len(thread_id) == len("thr_") + 32 for thread_id in ids)
    assert Layout.from_json(layout.to_json()) == layout
    assert layout.items == 10_100 + 10
    with pytest.raises(IndexError):
        layout.turn_thread(5)
    with pytest.raises(ValueError):
        Layout(threads=3, sizes=(100, 10_000), turn_threads=5)
