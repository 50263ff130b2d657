"""The server log's pieces without a server: level specs, the two formats, the queue, request names."""

from __future__ import annotations

import io
import json
import logging
import queue
import sys
from collections.abc import Iterator

import pytest

from cronwright.api.observe import endpoint_name, safe_path
from cronwright.config import ConfigError, Settings, load_settings
from cronwright.logs import (
    JsonFormatter,
    TextFormatter,
    _Enqueuer,
    component_levels,
    configure_logging,
    fields,
    parse_levels,
)
from cronwright.metrics import Metrics, job_outcome, label


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("info", ("info", {})),
        ("WARNING", ("warning", {})),
        ("", ("info", {})),
        ("debug,cronwright.scheduler=info", ("debug", {"cronwright.scheduler": "info"})),
        (
            "cronwright.jobs=debug, uvicorn.error=error",
            ("info", {"cronwright.jobs": "debug", "uvicorn.error": "error"}),
        ),
    ],
)
def test_parse_levels(spec: str, expected: tuple[str, dict[str, str]]) -> None:
    """A level spec is a base level and ``logger=level`` pairs, in any case and order."""
    assert parse_levels(spec) == expected


@pytest.mark.parametrize("spec", ["loud", "info,debug", "info,cronwright.jobs=verbose", "info,bad name=debug"])
def test_parse_levels_refuses_nonsense(spec: str) -> None:
    """Unknown levels, two base levels and malformed logger names are errors."""
    with pytest.raises(ValueError):
        parse_levels(spec)


def test_component_levels_merge_table_and_spec() -> None:
    """``log_levels`` names levels per logger; pairs in ``log_level`` win over it."""
    settings = Settings(
        log_level="warning,cronwright.jobs=debug", log_levels={"cronwright.jobs": "error", "cronwright.api": "info"}
    )
    assert component_levels(settings) == ("warning", {"cronwright.jobs": "debug", "cronwright.api": "info"})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"log_format": "xml"}, "Invalid log_format"),
        ({"log_level": "chatty"}, "Invalid log_level"),
        ({"log_levels": {"cronwright.jobs": "loud"}}, "Invalid log_levels"),
        ({"access_log": "2"}, "access_log must be 0 or 1"),
        ({"metrics": "public"}, "Invalid metrics"),
        ({"metrics": "token", "metrics_token": "short"}, "at least 16 characters"),
    ],
)
def test_unusable_observability_settings_stop_the_start(values: dict[str, str], message: str) -> None:
    """Each observability setting is checked at start with a message naming it."""
    with pytest.raises(ConfigError, match=message):
        load_settings(values, environ={})


def _record(text: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("cronwright.jobs", logging.INFO, __file__, 1, text, args, None)
    for key, value in fields(**extra).items():
        setattr(record, key, value)
    return record


def test_text_format_appends_fields_quoting_what_needs_it() -> None:
    """Text lines: UTC time, level, logger, message, then ``key=value`` (quoted when not bare)."""
    line = TextFormatter().format(_record("job %s", "finished", job_id="j1", code=0, description='a "b" c', skip=None))
    stamp, rest = line.split(" ", 1)
    assert stamp.endswith("Z") and "T" in stamp
    assert rest == 'INFO cronwright.jobs: job finished job_id=j1 code=0 description="a \\"b\\" c"'


def test_json_format_is_one_object_with_fields() -> None:
    """JSON lines carry ts, level, logger, msg and the fields; fields never replace those four."""
    line = JsonFormatter().format(_record("job finished", job_id="j1", elapsed_s=1.5, msg="not this", obj=object()))
    parsed = json.loads(line)
    assert parsed["msg"] == "job finished" and parsed["level"] == "info" and parsed["logger"] == "cronwright.jobs"
    assert parsed["job_id"] == "j1" and parsed["elapsed_s"] == 1.5 and parsed["obj"].startswith("<object")
    assert "\n" not in line


def test_full_queue_drops_records_instead_of_blocking() -> None:
    """When the writer falls behind, records beyond the queue's size are dropped and counted."""
    handler = _Enqueuer(queue.Queue(2))
    for n in range(5):
        handler.handle(_record("line %d", n))
    assert handler.queue.qsize() == 2 and handler.dropped == 3


def test_queued_record_keeps_its_traceback() -> None:
    """A record logged with an exception reaches the writer with the traceback rendered."""
    handler = _Enqueuer(queue.Queue())
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info())
    handler.handle(record)
    queued = handler.queue.get_nowait()
    parsed = json.loads(JsonFormatter().format(queued))
    assert parsed["msg"] == "failed here" and "RuntimeError: boom" in parsed["exc"]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger and uvicorn's loggers back as they were."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    levels = {name: logging.getLogger(name).level for name in ("uvicorn.error", "cronwright.scheduler")}
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_configure_logging_routes_uvicorn_through_the_same_format(restore_logging: None) -> None:
    """After ``configure_logging`` uvicorn's lines come out in the configured (JSON) format, and
    per-component levels apply."""
    out = io.StringIO()
    setup = configure_logging(Settings(log_format="json", log_level="warning,cronwright.scheduler=debug"), stream=out)
    logging.getLogger("uvicorn.error").warning("Started %s", "uvicorn")
    logging.getLogger("cronwright.scheduler").debug("tick", extra=fields(minute=60))
    logging.getLogger("cronwright.jobs").info("hidden")
    setup.close()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["logger"], line["msg"]) for line in lines] == [
        ("uvicorn.error", "Started uvicorn"),
        ("cronwright.scheduler", "tick"),
    ]
    assert lines[1]["minute"] == 60


@pytest.mark.parametrize(
    ("path", "name", "shown"),
    [
        ("/api/app/get_job/v1", "get_job", "/api/app/get_job/v1"),
        ("/api/app/run_event/v1/wait", "run_event", "/api/app/run_event/v1/wait"),
        ("/api/app/magic/v1/SECRET-TOKEN-123456", "magic", "/api/app/magic/v1/***"),
        ("/api/app/form/v1/SECRET-TOKEN/wait", "form", "/api/app/form/v1/***"),
        ("/api/user/login", "login", "/api/user/login"),
        ("/api/app/no_such_call_abc/v1", "unknown", "/api/app/no_such_call_abc/v1"),
        ("/api/app/bad%20name/x", "unknown", "/api/app/***"),
        ("/files/jobs/j1/SECRETKEY/out.txt", "files", "/files/***"),
        ("/metrics", "metrics", "/metrics"),
        ("/api/docs/static/x.js", "docs", "/api/docs/static/x.js"),
        ("/", "root", "/"),
        ("/wp-admin", "unknown", "/wp-admin"),
    ],
)
def test_request_names_and_logged_paths(path: str, name: str, shown: str) -> None:
    """Requests are named by their API call (unknown names collapse), and logged paths hide tokens."""
    known = frozenset({("app", "get_job"), ("app", "run_event"), ("app", "magic"), ("app", "form"), ("user", "login")})
    assert endpoint_name(path, known) == name
    assert safe_path(path) == shown


def test_metric_labels_stay_bounded() -> None:
    """Label values are word ids (else ``other``), outcomes a fixed set, sources a known set."""
    assert label("general") == "general" and label("a b") == "other" and label("x" * 65) == "other"
    assert [job_outcome(c) for c in (0, "", "warning", "abort", 3, "weird")] == [
        "success",
        "success",
        "warning",
        "abort",
        "error",
        "error",
    ]
    metrics = Metrics()
    metrics.job_launched({"category": "general", "source": "made-up"})
    body = metrics.render()[0].decode()
    assert 'cronwright_jobs_launched_total{category="general",source="other"} 1.0' in body


def test_two_metrics_registries_do_not_share_series() -> None:
    """Each conductor's metrics live in their own registry."""
    first, second = Metrics(), Metrics()
    first.fire("launched", 0.5)
    assert 'cronwright_scheduler_fires_total{status="launched"} 1.0' in first.render()[0].decode()
    assert "cronwright_scheduler_fires_total{" not in second.render()[0].decode()
