"""SQLite serves one conductor (docs/ha.md): a second ``serve`` on the same database is refused at
start with a clear one-line error, and the first keeps serving."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import Server


def test_second_conductor_on_one_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = Server(tmp_path / "data").start()
    second = Server(tmp_path / "data")
    try:
        try:
            second.start(timeout_s=20)
        except RuntimeError as exc:
            message = str(exc)
        else:
            raise AssertionError("a second conductor started on the same SQLite file")
        assert "is using the SQLite database" in message and "SQLite serves one conductor" in message
        assert "Traceback" not in message
        assert second.proc is not None and second.proc.returncode not in (0, None)
        assert first.client().ok("get_conductors")["rows"][0]["self"] is True
    finally:
        second.stop()
        first.stop()
    restarted = Server(tmp_path / "data").start()  # the lock goes with the process
    try:
        (row,) = restarted.client().ok("get_conductors")["rows"]
        assert row["leader"] is True and row["online"] is True
    finally:
        restarted.stop()
