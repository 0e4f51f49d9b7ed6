"""Crash-safe SQLite journal of a search run (a :class:`~surrogate_nas.io.ConfigStore`).

Every evaluation is committed (WAL, ``synchronous=FULL``) *before* the searcher is told. The
journal carries the run's *identity* (the configuration fields that decide which architectures are
evaluated) and its full configuration; a journal of another identity is refused, naming the fields
that differ. Searchers are deterministic given (seed, observations), so the "searcher state needed
to resume" is the ordered list of evaluations plus the batch each belongs to: resuming replays them.
Each evaluation keeps its fidelity and cost as measured; a journal written before the ``fidelity`` column
gains it (NULL for its evaluations) when opened, and resumes.
"""

from __future__ import annotations

import sqlite3
import time

import yaml

from ..io import ConfigStore, fingerprint
from .base import SearchError

__all__ = ["Journal", "fingerprint"]

EVALS = """
CREATE TABLE IF NOT EXISTS evals (
    idx INTEGER PRIMARY KEY,       -- 0-based evaluation number = position in the budget
    batch INTEGER NOT NULL,        -- suggestion batch (replay calls suggest(batch_size) again)
    batch_size INTEGER NOT NULL,
    arch TEXT NOT NULL,
    key TEXT NOT NULL,             -- canonical key: evaluated at most once per fidelity (index below)
    value REAL,
    test REAL,
    cost REAL,
    status TEXT,
    error TEXT,
    timestamp REAL NOT NULL,
    fidelity REAL                  -- epochs of the measurement (NULL: unknown, or a journal older than the column)
)
"""
#: An architecture (canonical key) is evaluated at most once per fidelity (a journal written before this index
#: keeps its older UNIQUE(key): once per architecture).
ONCE_PER_FIDELITY = "CREATE UNIQUE INDEX IF NOT EXISTS evals_key_fidelity ON evals (key, IFNULL(fidelity, -1))"
#: The columns of an evaluation, in the order :meth:`Journal.records` gives them.
COLUMNS = (
    "idx",
    "batch",
    "batch_size",
    "arch",
    "key",
    "value",
    "test",
    "fidelity",
    "cost",
    "status",
    "error",
    "timestamp",
)


class Journal(ConfigStore):
    """Open (or create) the journal at ``path`` for a run of ``identity``; ``config`` is stored with it."""

    what = "journal"
    error = SearchError
    made_for = "search configuration"
    refuse_hint = "use another --out directory or delete the journal"
    tables = (EVALS,)

    def __init__(self, path, identity: dict, config: dict | None = None):
        super().__init__(path, identity, meta={"config": yaml.safe_dump(config or {}, sort_keys=False)})
        self._add_fidelity()

    def _add_fidelity(self) -> None:
        """Give a journal written before the ``fidelity`` column that column (NULL for its evaluations), and every
        journal its once-per-fidelity index."""
        have = {row[1] for row in self.execute("PRAGMA table_info(evals)").fetchall()}
        if "fidelity" not in have or not self._has_index():
            with self.transaction() as con:
                if "fidelity" not in have:
                    con.execute("ALTER TABLE evals ADD COLUMN fidelity REAL")
                con.execute(ONCE_PER_FIDELITY)

    def _has_index(self) -> bool:
        q = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'evals_key_fidelity'"
        return self.execute(q).fetchone() is not None

    def config(self) -> dict:
        """The configuration stored with the journal (the latest run's, e.g. its budget)."""
        return yaml.safe_load(self.meta_text("config") or "") or {}

    def set_config(self, config: dict) -> None:
        """Store ``config`` (same identity, e.g. a larger budget) as the journal's configuration."""
        self.set_meta_text("config", yaml.safe_dump(config, sort_keys=False))

    def records(self) -> list[dict]:
        cur = self.execute(f"SELECT {', '.join(COLUMNS)} FROM evals ORDER BY idx")
        return [dict(zip(COLUMNS, r)) for r in cur.fetchall()]

    def append(self, idx: int, batch: int, batch_size: int, arch: str, key: str, result: dict) -> None:
        """Commit one evaluation (durable on return)."""

        def num(x):
            return None if x is None else float(x)

        row = (
            idx,
            batch,
            batch_size,
            arch,
            key,
            *(num(result.get(k)) for k in ("value", "test", "fidelity", "cost")),
            result.get("status"),
            result.get("error"),
            time.time(),
        )
        try:
            with self.transaction() as con:
                con.execute(f"INSERT INTO evals ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", row)
        except sqlite3.IntegrityError as e:
            raise SearchError(
                f"journal {self.path}: evaluation {idx} of {arch!r} would duplicate a record ({e})"
            ) from None
