"""The result store of a run directory: SQLite (stdlib, WAL), one row per finished cell.

A cell is keyed by its grid coordinates (a canonical JSON of them); its result rows are stored as
JSON. Only the driver writes (one writer), and each cell is committed as soon as it returns, so a
killed run loses at most the cells in flight.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pandas as pd

from .config import ExperimentError

DB_NAME = "experiment.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,          -- canonical JSON of the grid coordinates
    coords TEXT NOT NULL,          -- the same, as a JSON object
    rows TEXT NOT NULL,            -- JSON list of result rows
    info TEXT NOT NULL,            -- JSON object (timings, rates, worker pid, ...)
    seconds REAL NOT NULL,
    finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    key TEXT PRIMARY KEY,
    info TEXT NOT NULL,            -- JSON: benchmark, target, algorithm, meta seed, seconds, val tau
    finished REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def cell_key(coords: dict) -> str:
    return json.dumps(coords, sort_keys=True, separators=(",", ":"))


class ResultStore:
    """``DIR/experiment.sqlite``: finished cells, checkpoint timings, and run metadata."""

    def __init__(self, directory: str | Path, create: bool = True):
        """``create=False`` (reports) opens an existing store only: a run directory without one holds nothing
        to report, and reading it must not leave a new file behind."""
        self.path = Path(directory) / DB_NAME
        if not create and not self.path.is_file():
            raise ExperimentError(f"{directory}: no results store ({DB_NAME}); nothing to report yet")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._con.execute("PRAGMA journal_mode=WAL")
            self._con.execute("PRAGMA synchronous=NORMAL")
            self._con.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise ExperimentError(f"{self.path} is not a usable SQLite results store ({e})") from None

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # cells
    def done_keys(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT key FROM cells")}

    def put_cell(self, coords: dict, rows: list[dict], info: dict, seconds: float) -> bool:
        """Commit a finished cell; a cell already recorded is kept (returns False), never duplicated."""
        key = cell_key(coords)
        cur = self._con.execute(
            "INSERT OR IGNORE INTO cells (key, coords, rows, info, seconds, finished) VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                key,
                json.dumps(rows, default=_jsonable),
                json.dumps(info, default=_jsonable),
                float(seconds),
                time.time(),
            ),
        )
        return cur.rowcount == 1

    def cells(self) -> list[dict]:
        out = []
        for coords, rows, info, seconds in self._con.execute(
            "SELECT coords, rows, info, seconds FROM cells ORDER BY finished"
        ):
            out.append(
                {"coords": json.loads(coords), "rows": json.loads(rows), "info": json.loads(info), "seconds": seconds}
            )
        return out

    def rows_frame(self) -> pd.DataFrame:
        """Every cell's result rows, in grid order (sorted by the cells' keys)."""
        rows = []
        for (r,) in self._con.execute("SELECT rows FROM cells ORDER BY key"):
            rows += json.loads(r)
        return pd.DataFrame(rows)

    def count(self) -> int:
        return self._con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    # checkpoints
    def put_checkpoint(self, key: str, info: dict) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO checkpoints (key, info, finished) VALUES (?, ?, ?)",
            (key, json.dumps(info, default=_jsonable), time.time()),
        )

    def checkpoints(self) -> dict[str, dict]:
        return {k: json.loads(v) for k, v in self._con.execute("SELECT key, info FROM checkpoints ORDER BY finished")}

    # metadata
    def set_meta(self, name: str, value) -> None:
        self._con.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, json.dumps(value)))

    def get_meta(self, name: str, default=None):
        r = self._con.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return json.loads(r[0]) if r else default


def _jsonable(x):
    import numpy as np

    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")
