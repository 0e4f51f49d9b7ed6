"""Crash-safe SQLite journal of a search run.

Every evaluation is committed (WAL, ``synchronous=FULL``) *before* the searcher is told. The
journal carries the run's configuration fingerprint; a journal from another configuration is
refused. Searchers are deterministic given (seed, observations), so the "searcher state needed to
resume" is the ordered list of evaluations plus the batch each belongs to: resuming replays them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

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


class Journal:
    """Open (or create) ``path`` for a run whose configuration fingerprint is ``fingerprint``."""

    def __init__(self, path, fingerprint: str, config_text: str = ""):
        self.path = Path(path)
        try:
            self.con = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=FULL")
            self.con.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise SearchError(f"journal {self.path}: not a readable search journal ({e})") from None
        row = self.con.execute("SELECT value FROM meta WHERE name='fingerprint'").fetchone()
        if row is None:
            with self.con:
                self.con.execute("BEGIN")
                self.con.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
                self.con.execute("INSERT INTO meta VALUES ('config', ?)", (config_text,))
                self.con.execute("INSERT INTO meta VALUES ('created', ?)", (json.dumps(time.time()),))
        elif row[0] != fingerprint:
            old = self.con.execute("SELECT value FROM meta WHERE name='config'").fetchone()
            self.close()
            raise SearchError(
                f"journal {self.path} belongs to another search configuration (fingerprint {row[0][:12]} != "
                f"{fingerprint[:12]}); refusing to mix runs. Use another --out directory or delete the journal.\n"
                f"Journal's configuration:\n{old[0] if old else '?'}"
            )

    def records(self) -> list[dict]:
        cur = self.con.execute("SELECT idx, batch, batch_size, arch, key, value, test, cost, status, error, timestamp "
                               "FROM evals ORDER BY idx")
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
                    (idx, batch, batch_size, arch, key, num(result.get("value")), num(result.get("test")),
                     num(result.get("cost")), result.get("status"), result.get("error"), time.time()),
                )
        except sqlite3.IntegrityError as e:
            raise SearchError(f"journal {self.path}: evaluation {idx} of {arch!r} would duplicate a record ({e})") from None

    def close(self) -> None:
        try:
            self.con.close()
        except sqlite3.Error:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
