"""Small engine helpers: ids, loose equality, paging parameters, identities."""

from __future__ import annotations

import re

import pytest

from cronwright.engine.common import int_param, loose_equal, sort_dir_param
from cronwright.engine.identity import Identity
from cronwright.errors import CwError
from cronwright.ids import base36, generate_id


def test_generated_ids_have_the_xyops_shape() -> None:
    """Generated ids are 16 lower-case alphanumerics starting with the prefix, and unique."""
    ids = {generate_id("e") for _ in range(2000)}
    assert len(ids) == 2000 and all(re.fullmatch(r"e[a-z0-9]{15}", i) for i in ids)
    assert re.fullmatch(r"ca[a-z0-9]{14}", generate_id("ca"))
    assert base36(0) == "0" and base36(1295) == "zz"


@pytest.mark.parametrize(
    ("stored", "wanted", "equal"),
    [
        (True, 1, True),
        (True, "1", True),
        (False, 0, True),
        (True, "true", False),
        (5, "5", True),
        (5, 5.0, True),
        ("abc", "abc", True),
        ("abc", "abd", False),
        (None, None, True),
        (None, 0, False),
        ("x", None, False),
        ([1], [1], True),
        ({"a": 1}, "x", False),
    ],
)
def test_loose_equal(stored: object, wanted: object, equal: bool) -> None:
    """Filters compare like JavaScript ``==`` (booleans as 0/1, numeric strings as numbers)."""
    assert loose_equal(stored, wanted) is equal


@pytest.mark.parametrize(("value", "expected"), [(None, 3), ("", 3), ("7", 7), (7, 7), (7.0, 7)])
def test_int_param_accepts(value: object, expected: int) -> None:
    """Paging values may arrive as text (query strings) or numbers."""
    assert int_param({"limit": value}, "limit", 3) == expected


@pytest.mark.parametrize("value", ["x", -1, True, 1.5, [1], "1e3"])
def test_int_param_rejects(value: object) -> None:
    """Anything but a non-negative integer is an ``api`` error."""
    with pytest.raises(CwError) as info:
        int_param({"offset": value}, "offset", 0)
    assert info.value.code == "api" and info.value.status == 400


def test_sort_dir() -> None:
    """``sort_dir`` -1 (default) is newest first, 1 oldest first, anything else an error."""
    assert sort_dir_param({}) is True and sort_dir_param({"sort_dir": "1"}) is False
    with pytest.raises(CwError):
        sort_dir_param({"sort_dir": 0})


def test_identity_scope_rules() -> None:
    """Admins are never limited; targets pass on any allowed group; server ids grant nothing."""
    limited = Identity(kind="key", username="k1", title="K", categories=("c1",), groups=("g1",))
    admin = Identity(kind="user", username="admin", title="admin", privileges={"admin": True}, categories=("c1",))
    assert limited.can_category("c1") and not limited.can_category("c2")
    assert limited.can_targets(["g1", "srv"]) and not limited.can_targets(["srv"])
    assert limited.can_see({"category": "c1", "targets": ["g1"]})
    assert not limited.can_see({"category": "c1", "targets": ["g2"]})
    assert limited.can_see({"category": "c1", "type": "workflow", "targets": []})
    assert admin.can_category("anything") and admin.can_targets(["x"])
    with pytest.raises(CwError) as info:
        limited.require("create_events")
    assert (
        info.value.code == "access"
        and 'API Key "K" does not have the "Create Events" privilege' in info.value.description
    )
