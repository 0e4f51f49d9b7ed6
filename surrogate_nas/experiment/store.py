"""The result store of a run directory: SQLite (a :class:`~surrogate_nas.io.ConfigStore`), one row per finished cell.

A cell is keyed by its grid coordinates (a canonical JSON of them); its result rows are stored as
JSON. Only the driver writes (one writer), and each cell is committed as soon as it returns, so a
killed run loses at most the cells in flight.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from ..io import ConfigStore
from .config import ExperimentError

DB_NAME = "experiment.sqlite"

_TABLES = (
    """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,          -- canonical JSON of the grid coordinates
    coords TEXT NOT NULL,          -- the same, as a JSON object
    rows TEXT NOT NULL,            -- JSON list of result rows
    info TEXT NOT NULL,            -- JSON object (timings, rates, worker pid, ...)
    seconds REAL NOT NULL,
    finished REAL NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS checkpoints (
    key TEXT PRIMARY KEY,
    info TEXT NOT NULL,            -- JSON: benchmark, target, algorithm, meta seed, seconds, val tau
    finished REAL NOT NULL
)""",
)


def cell_key(coords: dict) -> str:
    return json.dumps(coords, sort_keys=True, separators=(",", ":"))


class ResultStore(ConfigStore):
    """``DIR/experiment.sqlite``: finished cells, checkpoint timings, and run metadata (a
    :class:`~surrogate_nas.io.ConfigStore` of its own tables).

    ``create=False`` (reports) opens an existing store only: a run directory without one holds nothing to report,
    and reading it must not leave a new file behind. ``identity``: the run's configuration, when the caller
    wants the store to refuse another one (the runner checks its directory's ``config.yaml`` instead)."""

    what = "results store"
    error = ExperimentError
    made_for = "experiment configuration"
    refuse_hint = "use a new --out"
    missing_hint = "nothing to report yet"
    tables = _TABLES

    def __init__(self, directory: str | Path, create: bool = True, identity: dict | None = None):
        super().__init__(Path(directory) / DB_NAME, identity, create=create)

    # cells
    def done_keys(self) -> set[str]:
        return {r[0] for r in self.execute("SELECT key FROM cells")}

    def put_cell(self, coords: dict, rows: list[dict], info: dict, seconds: float) -> bool:
        """Commit a finished cell; a cell already recorded is kept (returns False), never duplicated."""
        key = cell_key(coords)
        cur = self.execute(
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
        for coords, rows, info, seconds in self.execute(
            "SELECT coords, rows, info, seconds FROM cells ORDER BY finished"
        ):
            out.append(
                {"coords": json.loads(coords), "rows": json.loads(rows), "info": json.loads(info), "seconds": seconds}
            )
        return out

    def rows_frame(self) -> pd.DataFrame:
        """Every cell's result rows, in grid order (sorted by the cells' keys)."""
        rows = []
        for (r,) in self.execute("SELECT rows FROM cells ORDER BY key"):
            rows += json.loads(r)
        return pd.DataFrame(rows)

    def count(self) -> int:
        return self.execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    # checkpoints
    def put_checkpoint(self, key: str, info: dict) -> None:
        self.execute(
            "INSERT OR REPLACE INTO checkpoints (key, info, finished) VALUES (?, ?, ?)",
            (key, json.dumps(info, default=_jsonable), time.time()),
        )

    def checkpoints(self) -> dict[str, dict]:
        return {k: json.loads(v) for k, v in self.execute("SELECT key, info FROM checkpoints ORDER BY finished")}

    # metadata
    def set_meta(self, name: str, value) -> None:
        self.set_meta_text(name, json.dumps(value))

    def get_meta(self, name: str, default=None):
        text = self.meta_text(name)
        return default if text is None else json.loads(text)


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
