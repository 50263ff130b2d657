"""Selection rules of servers-agents.md §7.2 that need no servers: sort order and missing figures."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cronwright.engine.jobs.selection import choose


def server(server_id: str, title: str = "", **info: Any) -> dict[str, Any]:
    return {"id": server_id, "hostname": server_id, "title": title, "info": info}


@pytest.mark.parametrize(
    ("algo", "expected"),
    [("prefer_first", "s10"), ("prefer_last", "s9")],
)
def test_sorted_algorithms_use_code_points(algo: str, expected: str) -> None:
    cands = [server("s9", "Node 9"), server("s10", "Node 10")]
    assert choose(algo, cands, robin=0, active_jobs=[], rng=random.Random(1)).server["id"] == expected  # type: ignore[index]


@pytest.mark.parametrize(
    ("cands", "expected"),
    [
        ([server("a"), server("b", cpu={"avgLoad": 0.1})], "a"),  # a first pick without the figure stays
        ([server("a", cpu={"avgLoad": 0.5}), server("b"), server("c", cpu={"avgLoad": 0.2})], "c"),
        ([server("a", cpu={"avgLoad": 0.5}), server("b", cpu={"avgLoad": 0.5})], "a"),  # ties: the earliest
    ],
)
def test_least_cpu_skips_servers_without_figures(cands: list[dict[str, Any]], expected: str) -> None:
    choice = choose("least_cpu", cands, robin=0, active_jobs=[], rng=random.Random(1)).server
    assert choice is not None and choice["id"] == expected
