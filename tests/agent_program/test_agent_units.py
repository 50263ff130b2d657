"""The agent's pure parts: backoff, URLs, the spool's offsets and bound, the config file."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import httpx
import pytest

from cronwright.agent.config import AgentConfig, EnrollError, enroll, load_config, save_config
from cronwright.agent.connection import backoff_cap_s, base_url_of, next_delay_s, ws_url
from cronwright.agent.plugins import PluginCache
from cronwright.agent.spool import JobSpool


@pytest.mark.parametrize(
    ("failures", "cap"), [(0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 16.0), (6, 30.0), (60, 30.0)]
)
def test_backoff_cap_doubles_to_thirty_seconds(failures: int, cap: float) -> None:
    """The delay cap starts at 1 s, doubles per failed attempt and stops at 30 s."""
    assert backoff_cap_s(failures) == cap


def test_next_delay_is_full_jitter() -> None:
    """Delays are spread over the whole range [0, cap]."""
    rng = random.Random(1)
    delays = [next_delay_s(4, rng) for _ in range(500)]
    assert 0 <= min(delays) < 1 and 7 < max(delays) <= 8


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://c1:5522", "ws://c1:5522/"),
        ("https://c1.example.com", "wss://c1.example.com/"),
        ("http://proxy/cronwright/", "ws://proxy/cronwright/"),
    ],
)
def test_ws_url(base: str, expected: str) -> None:
    """``ws://`` for http base URLs, ``wss://`` for https."""
    assert ws_url(base) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("http://c2:9000", "http://c2:9000"),
        ("c2:9000", "https://c2:9000"),
        ("c2", "https://c2:5522"),
    ],
)
def test_advertised_hosts_become_base_urls(entry: str, expected: str) -> None:
    """A bare advertised host takes the scheme and port of the first ``--conductor`` URL."""
    assert base_url_of(entry, "https://c1:5522") == expected


def test_spool_offsets_replay_and_utf8(tmp_path: Path) -> None:
    """Offsets count UTF-8 bytes of valid text; a rewind replays from the acknowledged byte."""
    spool = JobSpool(tmp_path / "j1")
    spool.append(b"abc\xc3")  # an incomplete character waits for its rest
    spool.append(b"\xa9\xffz\n")  # an invalid byte becomes U+FFFD
    offset, text, dropped = spool.pending()
    assert (offset, text.decode(), dropped) == (0, "abcé\ufffdz\n", 0)
    spool.mark_sent(offset, len(text))
    spool.append(b"more\n")
    spool.mark_acked(spool.sent)
    offset, text, _ = spool.pending()
    spool.mark_sent(offset, len(text))
    spool.rewind()  # the socket dropped before "more" was acknowledged
    assert spool.pending()[:2] == (len("abcé\ufffdz\n".encode()), b"more\n")
    spool.remove()
    assert not (tmp_path / "j1").exists()


def test_spool_bound_drops_oldest_unacknowledged_log(tmp_path: Path) -> None:
    """Past the bound the oldest output is dropped and the replay says how much is missing."""
    spool = JobSpool(tmp_path / "j2", max_bytes=1024)
    for i in range(100):
        spool.append(f"{i:04d}-67890\n".encode())  # 11 bytes a line
    assert spool.written == 1100
    assert spool.written - spool.base <= 1024
    offset, text, dropped = spool.pending()
    assert dropped == spool.base > 0 and offset == spool.base
    assert text.endswith(b"0099-67890\n")
    spool.remove()


def test_config_file_is_private(tmp_path: Path) -> None:
    """agent.json is written mode 0600 and read back; ``initial`` is kept until cleared."""
    config = AgentConfig("s1", "tok", ["http://c1"], {"title": "x"}, {"airgap": False})
    save_config(tmp_path, config)
    assert stat.S_IMODE((tmp_path / "agent.json").stat().st_mode) == 0o600
    assert load_config(tmp_path) == config
    assert load_config(tmp_path / "none") is None


def test_enrolment_errors_never_show_the_token() -> None:
    """A refused install token gives an error that names the conductor, not the token."""

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"code": "satellite", "description": "Access denied."})

    with pytest.raises(EnrollError) as raised:
        enroll("http://c1", "secret-install-token", transport=httpx.MockTransport(refuse))
    assert "secret-install-token" not in str(raised.value) and "403" in str(raised.value)


def test_plugin_cache_writes_and_prunes_scripts(tmp_path: Path) -> None:
    """Plugin scripts are written under plugins/ and removed when the plugin is no longer listed."""
    cache = PluginCache(tmp_path / "plugins")
    cache.replace([{"id": "p1", "script": "echo 1"}, {"id": "p2", "script": ""}, {"id": "p3", "script": "echo 3"}])
    assert sorted(p.name for p in (tmp_path / "plugins").iterdir()) == ["p1", "p3"]
    cache.replace([{"id": "p3", "script": "echo three"}])
    assert [p.name for p in (tmp_path / "plugins").iterdir()] == ["p3"]
    assert cache.get("p1") is None and cache.get("p3") == {"id": "p3", "script": "echo three"}
