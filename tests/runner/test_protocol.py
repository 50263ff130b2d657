"""The output protocol rules (plugins.md §4, §6), fed as raw bytes without a process."""

from __future__ import annotations

import asyncio
import re

import pytest

from cronwright.runner import protocol
from cronwright.runner.base import RunResult
from cronwright.runner.logbatch import LogBatcher
from cronwright.runner.protocol import OutputInterpreter, is_success_code, merge_values, normalize_code
from tests.runner.helpers import RecordingSink


class ListLog:
    """A log writer keeping every chunk."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def append(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> bytes:
        return b"".join(self.chunks)


def interpreter(*, shell: bool = False, annotate: bool = False) -> tuple[OutputInterpreter, RecordingSink, ListLog]:
    sink, log = RecordingSink(), ListLog()
    return OutputInterpreter(RunResult(), sink, log, shell=shell, annotate=annotate), sink, log


def test_lines_split_across_chunks() -> None:
    """Lines are reassembled across chunks; records work when split anywhere."""
    output, _, log = interpreter()
    for chunk in (b"hel", b"lo\nwor", b'ld\n{"xy":1,"da', b'ta":{"a":1}}\n', b"tail"):
        output.feed_stdout(chunk)
    assert log.text == b"hello\nworld\n" and output.result.data == {"a": 1}
    output.end_stdout()
    output.end_stdout()
    assert log.text == b"hello\nworld\ntail\n"


def test_candidate_pattern() -> None:
    """Only lines shaped like ^\\s*{.+}\\s*$ are parsed; "{}" and "x {}" are text."""
    output, sink, log = interpreter()
    output.feed_stdout(b'{}\nx {"xy":1}\n  {"xy":1,"status":"s"}  \r\n')
    assert log.text == b'{}\nx {"xy":1}\n' and sink.updates == [{"status": "s"}]


def test_complete_and_code_rules() -> None:
    """complete without code means 0; code without complete completes; complete:false keeps running."""
    output, _, _ = interpreter()
    output.apply({"xy": 1, "code": 3, "complete": False})
    assert not output.completed and output.result.code == 3
    output.apply({"xy": 1, "complete": True})
    assert output.completed and output.result.code == 0
    output, _, _ = interpreter()
    output.apply({"xy": 1, "code": "warning"})
    assert output.completed and output.result.code == "warning"


def test_records_ignored_after_completion_or_abort() -> None:
    """Once complete (or aborting), records are dropped but text is still logged."""
    for stop in ("completed", "aborting"):
        output, sink, log = interpreter(shell=True)
        setattr(output, stop, True)
        output.feed_stdout(b'{"xy":1,"data":{"a":1}}\n{"foo":1}\n50%\ntext\n')
        assert output.result.data == {} and sink.updates == [] and log.text == b"text\n"


def test_muted_output_is_dropped() -> None:
    """After delivery nothing reaches the log, the result or the sink."""
    output, sink, log = interpreter()
    output.muted = True
    output.feed_stdout(b"text\n")
    output.feed_stderr(b"err")
    output.notice("x")
    assert log.chunks == [] and sink.notices == [] and output.result.notices == []


def test_files_replace_and_push_files_append() -> None:
    """files replaces the list, push.files appends, other push keys are forwarded."""
    output, sink, _ = interpreter()
    output.apply({"xy": 1, "files": ["a.txt"]})
    output.apply({"xy": 1, "files": ["b.txt", ["c", "d"]]})
    output.apply({"xy": 1, "push": {"files": [{"path": "e"}], "tags": ["t"], "actions": [{}]}})
    output.apply({"xy": 1, "files": "single.txt"})
    output.apply({"xy": 1, "push": {"files": ["f"]}})
    assert output.file_specs == ["single.txt", "f"]
    assert sink.pushes == [{"tags": ["t"], "actions": [{}]}]


@pytest.mark.parametrize("push", [["tags"], {"tags": "flag"}, {"bad-key": []}, {"": []}])
def test_malformed_push_is_dropped(push: object) -> None:
    """A push that is not an object of word keys to arrays is dropped with a notice."""
    output, sink, _ = interpreter()
    output.apply({"xy": 1, "push": push})
    assert sink.pushes == [] and len(sink.notices) == 1 and output.file_specs == []


def test_data_merging() -> None:
    """Later values win, arrays concatenate, and a non-object data record is refused."""
    target: dict[str, object] = {"a": [1], "b": {"x": 1}, "c": 1}
    merge_values(target, {"a": [2], "b": {"y": 2}, "c": [3]})
    assert target == {"a": [1, 2], "b": {"y": 2}, "c": [3]}
    output, sink, _ = interpreter()
    output.apply({"xy": 1, "data": "nope", "workflowData": {"w": [1]}})
    output.apply({"xy": 1, "workflowData": {"w": [2]}})
    assert output.result.data == {} and output.result.fields["workflowData"] == {"w": [1, 2]}
    assert len(sink.notices) == 1


def test_shell_progress_and_annotate() -> None:
    """Shell mode turns NN% lines into clamped progress and stamps other text lines when annotating."""
    output, sink, log = interpreter(shell=True, annotate=True)
    output.feed_stdout(b"0%\n 100% \n7.5%\n150%\n-5%\n5 %\nplain\n")
    assert [update["progress"] for update in sink.updates] == [0.0, 1.0, 0.075, 1.0]
    lines = log.text.decode().splitlines()
    assert all(re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] .+", line) for line in lines)
    assert [line[22:] for line in lines] == ["-5%", "5 %", "plain"]


def test_generic_mode_logs_percent_lines() -> None:
    """Outside the Shell plugin a "50%" line is ordinary text."""
    output, sink, log = interpreter()
    output.feed_stdout(b"50%\n")
    assert log.text == b"50%\n" and sink.updates == []


def test_stderr_head_is_capped() -> None:
    """Shell mode keeps the first 32 KB of stderr (marked when cut) and logs all of it."""
    output, _, log = interpreter(shell=True)
    output.feed_stderr(b"e" * 30_000)
    output.feed_stderr(b"f" * 10_000)
    output.feed_stderr(b"g")
    assert len(log.text) == 40_001
    assert output.stderr_text() == "e" * 30_000 + "f" * 2_768 + "..."


def test_overlong_line_is_logged_without_interpretation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A line beyond the maximum length is logged as text with one notice, and reading goes on."""
    monkeypatch.setattr(protocol, "MAX_LINE_BYTES", 10)
    output, sink, log = interpreter()
    output.feed_stdout(b'{"xy":1,"data"')
    output.feed_stdout(b':{"a":1}}\n{"xy":1,"code":0}\n')
    assert output.result.data == {} and output.completed
    assert log.text == b'{"xy":1,"data":{"a":1}}\n' and len(sink.notices) == 1


def test_code_normalization() -> None:
    """Codes stay numbers or strings; booleans and null map to 1/0; success is JS-loose."""
    assert [normalize_code(value) for value in (None, False, True, 5, 2.5, "x", [1])] == [0, 0, 1, 5, 2.5, "x", "[1]"]
    assert [is_success_code(code) for code in (0, 0.0, "0", "", None, 1, "warning")] == [True] * 5 + [False] * 2


def test_log_batches_are_delivered_at_most_every_flush_interval() -> None:
    """The log batcher delivers one chunk per interval and everything on flush."""
    delivered: list[bytes] = []

    async def main() -> None:
        batcher = LogBatcher(delivered.append, 0.05)
        batcher.append(b"a")
        batcher.append(b"b")
        await asyncio.sleep(0.08)
        batcher.append(b"c")
        batcher.flush()
        batcher.append(b"")
        batcher.append(b"d")
        batcher.discard()
        await asyncio.sleep(0.06)

    asyncio.run(main())
    assert delivered == [b"ab", b"c"]
