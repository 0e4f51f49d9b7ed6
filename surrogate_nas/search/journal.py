"""Crash-safe SQLite journal of a search run.

Every evaluation is committed (WAL, ``synchronous=FULL``) *before* the searcher is told. The
journal carries the run's *identity* (the configuration fields that decide which architectures are
evaluated) and its full configuration; a journal of another identity is refused, naming the fields
that differ. Searchers are deterministic given (seed, observations), so the "searcher state needed
to resume" is the ordered list of evaluations plus the batch each belongs to: resuming replays them.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import yaml

from .base import SearchError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evals (
    idx INTEGER PRIMARY KEY,       -- 0-based evaluation number = position in the budget
    batch INTEGER NOT NULL,        -- suggestion batch (replay calls suggest(batch_size) again)
    batch_size INTEGER NOT NULL,
    arch TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,      -- canonical key: an architecture is never evaluated twice
    value REAL,
    test REAL,
    cost REAL,
    status TEXT,
    error TEXT,
    timestamp REAL NOT NULL
);
"""


def fingerprint(identity: dict) -> str:
    """sha256 of the identity fields (JSON, sorted keys)."""
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _differences(old: dict, new: dict) -> str:
    def show(v):
        return (
            "-" if v is None else json.dumps(v, sort_keys=True, default=str) if isinstance(v, (dict, list)) else str(v)
        )

    diffs = [
        f"{k}: {show(old.get(k))} in the journal, {show(new.get(k))} now"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]
    return "; ".join(diffs)


class Journal:
    """Open (or create) the journal at ``path`` for a run of ``identity``; ``config`` is stored with it."""

    def __init__(self, path, identity: dict, config: dict | None = None):
        self.path = Path(path)
        self.identity = json.loads(json.dumps(identity, default=str))
        fp = fingerprint(self.identity)
        try:
            self.con = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=FULL")
            self.con.executescript(SCHEMA)
            row = self._meta("fingerprint")
        except sqlite3.DatabaseError as e:
            raise SearchError(f"journal {self.path}: not a readable search journal ({e})") from None
        if row is None:
            with self.con:
                self.con.execute("BEGIN IMMEDIATE")
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?)", (fp,))
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('identity', ?)", (json.dumps(self.identity),))
                self.con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('config', ?)", (yaml.safe_dump(config or {}, sort_keys=False),)
                )
                self.con.execute("INSERT OR REPLACE INTO meta VALUES ('created', ?)", (json.dumps(time.time()),))
        elif row != fp:
            stored = self._meta("identity")
            why = (
                _differences(json.loads(stored), self.identity) if stored else ""
            ) or "written by another version of surrogate-nas"
            self.close()
            raise SearchError(
                f"journal {self.path} belongs to another search configuration ({why}); "
                "use another --out directory or delete the journal"
            )

    def _meta(self, name: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else row[0]

    def config(self) -> dict:
        """The configuration stored with the journal (the latest run's, e.g. its budget)."""
        return yaml.safe_load(self._meta("config") or "") or {}

    def set_config(self, config: dict) -> None:
        """Store ``config`` (same identity, e.g. a larger budget) as the journal's configuration."""
        with self.con:
            self.con.execute("BEGIN IMMEDIATE")
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('config', ?)", (yaml.safe_dump(config, sort_keys=False),)
            )

    def records(self) -> list[dict]:
        cur = self.con.execute(
            "SELECT idx, batch, batch_size, arch, key, value, test, cost, status, error, timestamp "
            "FROM evals ORDER BY idx"
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def append(self, idx: int, batch: int, batch_size: int, arch: str, key: str, result: dict) -> None:
        """Commit one evaluation (durable on return)."""

        def num(x):
            return None if x is None else float(x)

        try:
            with self.con:
                self.con.execute("BEGIN IMMEDIATE")
                self.con.execute(
                    "INSERT INTO evals VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        idx,
                        batch,
                        batch_size,
                        arch,
                        key,
                        num(result.get("value")),
                        num(result.get("test")),
                        num(result.get("cost")),
                        result.get("status"),
                        result.get("error"),
                        time.time(),
                    ),
                )
        except sqlite3.IntegrityError as e:
            raise SearchError(
                f"journal {self.path}: evaluation {idx} of {arch!r} would duplicate a record ({e})"
            ) from None

    def close(self) -> None:
        try:
            self.con.close()
        except sqlite3.Error:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
