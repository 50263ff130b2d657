"""Schema migrations: fresh databases, upgrades in place, and refusal of unknown versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, inspect, text

from cronwright.store.base import SchemaTooNew, StoreError
from cronwright.store.sql import tables
from cronwright.store.sql.migrations import MIGRATIONS, Migration, current_version, migrate
from cronwright.store.sql.store import SqlStore, create_sql_engine

FIXTURES = Path(__file__).parent / "fixtures"


def test_fresh_database_matches_current_schema(tmp_path: Path) -> None:
    """A new database has exactly the tables and columns of ``tables.metadata``."""
    engine = create_sql_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert migrate(engine) == MIGRATIONS[-1].version
    inspector = inspect(engine)
    for name, table in tables.metadata.tables.items():
        assert {c["name"] for c in inspector.get_columns(name)} == set(table.columns.keys()), name
    assert migrate(engine) == MIGRATIONS[-1].version  # idempotent
    engine.dispose()


def test_upgrade_in_place_keeps_data(tmp_path: Path) -> None:
    """A database at version 1 is upgraded by a later migration without losing rows."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = SqlStore.open(url)
    with store.write() as w:
        w.insert_doc("events", {"id": "keep_me", "revision": 1})
    store.close()

    def add_column(conn: object) -> None:
        conn.execute(text("ALTER TABLE events ADD COLUMN priority INTEGER DEFAULT 0"))  # type: ignore[attr-defined]

    future = (*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "add events.priority", add_column))
    metadata = MetaData()
    for table in tables.metadata.tables.values():
        table.to_metadata(metadata)
    metadata.tables["events"].append_column(Column("priority", Integer, default=0))
    engine = create_sql_engine(url)
    assert migrate(engine, future, metadata) == future[-1].version
    with engine.connect() as conn:
        assert current_version(conn) == future[-1].version
        assert conn.execute(text("SELECT id, priority FROM events")).all() == [("keep_me", 0)]
    engine.dispose()


def test_database_of_release_0_1_opens(tmp_path: Path) -> None:
    """The data directory written by release 0.1 (schema 1) opens with this code, records intact."""
    shutil.copy(FIXTURES / "v1.sqlite", tmp_path / "db.sqlite")
    store = SqlStore.open(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert store.schema_version() == MIGRATIONS[-1].version
        assert store.fires_of("fixture_event", 0, 10) == ([], 0)  # the v2 table exists and is empty
        event = store.get_doc("events", "fixture_event")
        assert event is not None and event["params"]["script"] == "#!/bin/sh\necho v1\n"
        assert store.get_event_state("fixture_event") == {"cursor": 1700000040}
        assert {d["id"] for d in store.load_docs("plugins")} >= {"shellplug"}
    finally:
        store.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    """A database stamped by a newer Cronwright is not touched."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    SqlStore.open(url).close()
    engine = create_sql_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO schema_migrations (version, description, applied) VALUES (999, 'future', 0)"))
    engine.dispose()
    with pytest.raises(SchemaTooNew, match="newer than this Cronwright supports"):
        SqlStore.open(url)


def test_unversioned_tables_are_refused(tmp_path: Path) -> None:
    """Cronwright tables without a schema version are reported instead of being overwritten."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_sql_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE events (id TEXT)"))
    engine.dispose()
    with pytest.raises(StoreError, match="no schema version"):
        SqlStore.open(url)
