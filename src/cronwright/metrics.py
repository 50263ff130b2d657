"""The conductor's Prometheus metrics, in a registry of its own (no global state: several
conductors in one process never share a series).

The engine reports what happened through the methods of ``Metrics`` (a job launched, a fire
skipped, a statement's duration); gauges of the active set are read when ``/metrics`` is scraped.
Labels stay few and bounded: category ids, sources, outcomes, states, endpoint names — never job
ids, user names or paths. docs/observability.md lists every metric.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from cronwright import __version__

#: job sources that become a label value; others are counted as ``other``
JOB_SOURCES = frozenset({"scheduler", "startup", "plugin", "user", "key", "magic", "action"})
#: the states of an unfinished job (``store.base.ACTIVE_JOB_STATES``)
JOB_STATES = ("start_delay", "retry_delay", "ready", "queued", "starting", "suspended", "active", "finishing")
JOB_DURATION_BUCKETS_S = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
LATENESS_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600)
HTTP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
DB_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
_WORD = re.compile(r"^\w{1,64}$", re.ASCII)


def label(value: Any, default: str = "other") -> str:
    """A label value from an id: word characters only, at most 64 (anything else: ``default``)."""
    return value if isinstance(value, str) and _WORD.match(value) else default


def job_outcome(code: Any) -> str:
    """``success`` (code 0), ``warning``, ``critical``, ``abort``, or ``error`` (any other code)."""
    if not code:
        return "success"
    return code if code in ("warning", "critical", "abort") else "error"


class Metrics:
    """Counters and histograms of one conductor, and the collector of its active jobs."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self._jobs_launched = Counter(
            "cronwright_jobs_launched",
            "Jobs launched, by event category and source.",
            ["category", "source"],
            registry=registry,
        )
        self._jobs_finished = Counter(
            "cronwright_jobs_finished",
            "Jobs finished, by event category and outcome (success, warning, critical, abort, error).",
            ["category", "outcome"],
            registry=registry,
        )
        self._job_duration = Histogram(
            "cronwright_job_duration_seconds",
            "Elapsed time of finished jobs (start to completion), by event category.",
            ["category"],
            buckets=JOB_DURATION_BUCKETS_S,
            registry=registry,
        )
        self._launch_refused = Counter(
            "cronwright_job_launches_refused",
            "Launch requests refused before a job existed (disabled, limits, brake).",
            ["source"],
            registry=registry,
        )
        self._fires = Counter(
            "cronwright_scheduler_fires",
            "Scheduled fires by status: launched, failed, skipped, postponed, duplicate, deferred.",
            ["status"],
            registry=registry,
        )
        self._lateness = Histogram(
            "cronwright_scheduler_lateness_seconds",
            "Delay between a fire's scheduled time and the launch of its job.",
            buckets=LATENESS_BUCKETS_S,
            registry=registry,
        )
        self._actions = Counter(
            "cronwright_actions",
            "Job actions and limit notifications run, by type and result (success, failure).",
            ["type", "result"],
            registry=registry,
        )
        self._http = Counter(
            "cronwright_http_requests",
            "HTTP requests by endpoint name (the API call, never a path) and status code.",
            ["endpoint", "status"],
            registry=registry,
        )
        self._http_duration = Histogram(
            "cronwright_http_request_duration_seconds",
            "Time to answer HTTP requests, by endpoint name.",
            ["endpoint"],
            buckets=HTTP_BUCKETS_S,
            registry=registry,
        )
        self._db = Histogram(
            "cronwright_db_statement_duration_seconds",
            "Database statement latency by operation (select, insert, update, delete, begin, other).",
            ["operation"],
            buckets=DB_BUCKETS_S,
            registry=registry,
        )
        ProcessCollector(namespace="cronwright", registry=registry)
        self._build = GaugeMetricFamily("cronwright_build_info", "Cronwright version.", labels=["version"])
        self._build.add_metric([__version__], 1)
        self._active: Callable[[], Iterable[dict[str, Any]]] = tuple
        registry.register(_ActiveJobs(self))

    # ---- what the engine reports

    def job_launched(self, job: dict[str, Any]) -> None:
        self._jobs_launched.labels(label(job.get("category")), _source(job.get("source"))).inc()

    def launch_refused(self, source: Any) -> None:
        self._launch_refused.labels(_source(source)).inc()

    def job_finished(self, job: dict[str, Any]) -> None:
        category = label(job.get("category"))
        self._jobs_finished.labels(category, job_outcome(job.get("code"))).inc()
        elapsed = job.get("elapsed")
        if isinstance(elapsed, (int, float)) and not isinstance(elapsed, bool) and elapsed >= 0:
            self._job_duration.labels(category).observe(elapsed)

    def fire(self, status: str, lateness_s: float | None = None) -> None:
        self._fires.labels(status).inc()
        if lateness_s is not None:
            self._lateness.observe(max(0.0, lateness_s))

    def action(self, action_type: Any, ok: bool) -> None:
        self._actions.labels(label(action_type), "success" if ok else "failure").inc()

    def http_request(self, endpoint: str, status: int, elapsed_s: float) -> None:
        self._http.labels(endpoint, str(status)).inc()
        self._http_duration.labels(endpoint).observe(elapsed_s)

    def db_statement(self, operation: str, elapsed_s: float) -> None:
        self._db.labels(operation).observe(elapsed_s)

    def watch_active_jobs(self, jobs: Callable[[], Iterable[dict[str, Any]]]) -> None:
        """Where the gauges of unfinished jobs are read from (called at scrape time, on the loop)."""
        self._active = jobs

    # ---- exposition

    def render(self) -> tuple[bytes, str]:
        """The text exposition format and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _source(value: Any) -> str:
    return value if isinstance(value, str) and value in JOB_SOURCES else "other"


class _ActiveJobs(Collector):
    """Gauges computed at scrape time: unfinished jobs by state, the queue depth, the version."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        counts = dict.fromkeys(JOB_STATES, 0)
        for job in list(self._metrics._active()):
            state = job.get("state")
            if state in counts:
                counts[state] += 1
        active = GaugeMetricFamily(
            "cronwright_active_jobs", "Unfinished jobs (the active set) by state.", labels=["state"]
        )
        for state, count in counts.items():
            active.add_metric([state], count)
        yield active
        yield GaugeMetricFamily(
            "cronwright_queue_depth", "Jobs waiting in an event's queue (state queued).", value=counts["queued"]
        )
        yield self._metrics._build
