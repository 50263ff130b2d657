"""The built-in Test plugin (``[test-plugin]``) run as a real process, and CPU/memory sampling."""

from __future__ import annotations

import random

import pytest

from cronwright.runner.testplugin import parse_action, parse_duration
from tests.runner.helpers import Harness


def test_success_reports_data_table_html_and_perf(harness: Harness) -> None:
    """Action Success with duration 0 completes at once with sample data echoing the custom param."""
    result, sink = harness.run(
        harness.spec("[test-plugin]", params={"duration": 0, "action": "Success", "custom": "hi"})
    )
    assert (result.code, result.description) == (0, "Success!")
    assert result.data["custom"] == "hi" and result.data["pid"] == result.pid
    assert set(result.data) == {"text", "hostname", "pid", "random", "obj", "custom"}
    assert {"table", "html", "perf"} <= set(result.fields)
    assert "Job start!" in sink.log


@pytest.mark.parametrize(
    ("action", "code"),
    [("Error", 999), ("Warning", "warning"), ("Critical", "critical"), ("Error, Success", 999)],
)
def test_failure_actions(harness: Harness, action: str, code: object) -> None:
    """Error, Warning and Critical report their codes; a list of actions means its first entry."""
    result, _ = harness.run(harness.spec("[test-plugin]", params={"duration": "0", "action": action}))
    assert result.code == code and result.description


def test_crash_is_a_non_zero_exit(harness: Harness) -> None:
    """Action Crash raises in the plugin: the generic "crashed" result with the traceback in the log."""
    result, sink = harness.run(harness.spec("[test-plugin]", params={"duration": 0, "action": "Crash"}))
    assert (result.code, result.description) == (1, f"Child {result.pid} crashed with code: 1")
    assert "RuntimeError: Test Crash" in sink.log


def test_upload_pushes_a_sample_file(harness: Harness) -> None:
    """upload writes sample.txt in the job directory and pushes it as an output file."""
    result, _ = harness.run(harness.spec("[test-plugin]", params={"duration": 0, "upload": True}))
    assert result.code == 0
    assert [(file.path, file.filename) for file in result.files] == [(harness.cwd / "sample.txt", "sample.txt")]


def test_progress_and_sampling(harness: Harness) -> None:
    """A burning run reports progress, and samples every sample_interval_s with real CPU and memory figures."""
    spec = harness.spec("[test-plugin]", params={"duration": 1.2, "burn": True}, sample_interval_s=0.2)
    result, sink = harness.run(spec)
    assert result.code == 0
    assert [update["progress"] for update in sink.updates if "progress" in update][-1] == 1.0
    samples = [update for update in sink.updates if "cpu" in update]
    assert len(samples) >= 3 and samples[-1]["cpu"]["count"] == result.cpu.count == len(samples)
    assert result.mem.min > 0 and result.mem.max > 1_000_000 and result.cpu.max > 10
    assert result.cpu.total == pytest.approx(sum(sample["cpu"]["current"] for sample in samples))


def test_sampling_a_sleeping_shell_tree(harness: Harness) -> None:
    """A shell script sleeping ~1.2 s with sample_interval_s=0.2 gets cpu/mem samples of its tree."""
    result, sink = harness.shell("#!/bin/sh\nsleep 1.2\n", sample_interval_s=0.2)
    assert result.code == 0
    assert result.cpu.count >= 4 and result.mem.count == result.cpu.count
    assert result.mem.max > 0 and result.cpu.max < 50
    assert sum(1 for update in sink.updates if set(update) == {"cpu", "mem"}) == result.cpu.count


def test_no_sample_before_the_first_interval(harness: Harness) -> None:
    """A run shorter than sample_interval_s is never sampled."""
    result, sink = harness.shell("#!/bin/sh\ntrue\n", sample_interval_s=0.5)
    assert result.cpu.count == 0 and sink.updates == []


def test_duration_and_action_parsing() -> None:
    """Durations accept numbers, text and random ranges; actions take the first list entry."""
    random.seed(1)
    assert parse_duration(2) == 2.0 and parse_duration("0") == 0.0 and parse_duration("x") == 0.0
    assert all(3 <= parse_duration("3-5") <= 5 for _ in range(20))
    assert parse_action("Success, Error, Warning") == "success" and parse_action(None) == "success"
