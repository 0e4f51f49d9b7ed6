"""Fidelity and cost of an evaluation: the cost models, budget_cost (stop point, resume), old journals, reports."""

from __future__ import annotations

import io
import json
import lzma
import sqlite3

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.cli import main
from surrogate_nas.search import RandomSearch, SearchConfig, SearchError, TableEvaluator, run_loop, run_search
from surrogate_nas.search.evaluators import EVALUATORS, TrainEvaluator

from ..conftest import REPO

NB = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
CHEAP = "|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"

#: The evaluations table exactly as journals were created before the fidelity column.
OLD_EVALS = """
CREATE TABLE evals (
    idx INTEGER PRIMARY KEY, batch INTEGER NOT NULL, batch_size INTEGER NOT NULL, arch TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE, value REAL, test REAL, cost REAL, status TEXT, error TEXT, timestamp REAL NOT NULL
)
"""


def shipped_flops() -> pd.Series:
    """The shipped per-string FLOPs, read here with pandas alone (not through the package)."""
    with lzma.open(REPO / "data" / "nb201" / "params_flops.csv.xz", "rt") as fh:
        text = "".join(line for line in fh if not line.startswith("# "))  # metadata lines; keys contain '#'
    return pd.read_csv(io.StringIO(text)).set_index("arch")["flops"].astype(float)


def test_nb201_cost_is_epochs_times_relative_flops(nb201_table):
    flops = shipped_flops()
    assert len(flops) == 15625
    ev = TableEvaluator(nb201_table, "cifar10", "valid_acc@12", "test_acc@200")
    r12 = ev.evaluate([NB, CHEAP])
    assert [r["fidelity"] for r in r12] == [12.0, 12.0]
    for r, s in zip(r12, (NB, CHEAP)):
        assert r["cost"] == pytest.approx(12 / 200 * flops[s] / flops.mean(), rel=1e-9)
    assert r12[0]["cost"] > r12[1]["cost"]  # a 3x3 convolution costs more than an empty cell
    # 200 epochs: the test metric searched itself (bare name = the highest fidelity recorded)
    for metric in ("test_acc", "test_acc@200"):
        (r,) = TableEvaluator(nb201_table, "cifar10", metric).evaluate([NB])
        assert r["fidelity"] == 200.0 and r["cost"] == pytest.approx(flops[NB] / flops.mean(), rel=1e-9)
    # one 200-epoch training of every cell costs, on average, one full-training equivalent
    every = TableEvaluator(nb201_table, "cifar10", "test_acc").evaluate(list(flops.index))
    assert np.mean([r["cost"] for r in every]) == pytest.approx(1.0, rel=1e-9)
    assert "full-training equivalents" in ev.cost_unit


def test_nas_bench_graph_cost_is_latency_over_its_mean(nbg_table):
    cfg = SearchConfig(space="nas-bench-graph", task="cora", strategy="random", progress=False).resolved()
    ev = EVALUATORS.get("table", config=cfg, table=nbg_table)
    archs = nbg_table.archs("cora", "latency")
    res = ev.evaluate(archs)
    costs = np.array([r["cost"] for r in res])
    assert costs.mean() == pytest.approx(1.0, rel=1e-9)
    latency = nbg_table.vector("cora", "latency", archs)
    assert costs[:5] == pytest.approx(latency[:5] / latency.mean())
    assert all(r["fidelity"] is None for r in res)  # NAS-Bench-Graph records carry no fidelity
    assert "inference latency" in ev.cost_unit


def test_train_evaluator_cost_is_seconds_at_its_epochs():
    asked = []

    class Inner:
        def evaluate(self, archs, epochs=None):
            asked.append(epochs)
            return [{"value": 90.0, "test": 88.5, "cost_seconds": 3.5, "status": "ok", "error": None} for _ in archs]

    ev = TrainEvaluator(Inner(), epochs=7)
    assert ev.evaluate([NB]) == [
        {"value": 90.0, "test": 88.5, "fidelity": 7.0, "cost": 3.5, "status": "ok", "error": None}
    ]
    assert ev.cost_unit.startswith("seconds")
    # a multi-fidelity searcher's fidelity is the epochs trained; a fraction of an epoch is refused
    assert ev.evaluate([NB], fidelity=2)[0]["fidelity"] == 2.0 and asked == [None, 2]
    with pytest.raises(SearchError, match="whole epochs"):
        ev.evaluate([NB], fidelity=2.5)


def _cfg(tmp_path, **kw):
    base = dict(
        space="nb201", task="cifar10", strategy="random", budget=10, seed=3, progress=False, out=str(tmp_path / "run")
    )
    return SearchConfig(**{**base, **kw})


def test_budget_cost_stops_at_the_right_evaluation_and_extends(tmp_path, nb201_table):
    full = run_loop(
        RandomSearch("nb201", seed=3), TableEvaluator(nb201_table, "cifar10", "valid_acc@12", "test_acc@200"), 10
    )
    cum = full["cum_cost"].to_numpy()
    assert cum == pytest.approx(np.cumsum(full["cost"]))
    # the 4th evaluation starts below the budget (cum after 3 < c) and ends at or above it: 4 evaluations
    c4 = (cum[2] + cum[3]) / 2
    r = run_search(_cfg(tmp_path, budget_cost=c4))
    assert r.evaluations == 4 and r.trajectory["arch"].tolist() == full["arch"].tolist()[:4]
    assert "budget_cost" in r.note and r.trajectory["cum_cost"].iloc[-1] >= c4 > r.trajectory["cum_cost"].iloc[-2]
    # exactly at the cumulative cost: no evaluation starts at the budget
    at = run_loop(
        RandomSearch("nb201", seed=3),
        TableEvaluator(nb201_table, "cifar10", "valid_acc@12"),
        10,
        budget_cost=float(cum[3]),
    )
    assert len(at) == 4
    # the same budget again replays to the same stop point
    again = run_search(_cfg(tmp_path, budget_cost=c4))
    assert again.evaluations == 4 and again.replayed == 4
    # a larger one continues the journal: the same trajectory as the uncapped run, up to its own stop point
    c7 = (cum[5] + cum[6]) / 2
    more = run_search(_cfg(tmp_path, budget_cost=c7))
    assert more.evaluations == 7 and more.replayed == 4
    assert more.trajectory["arch"].tolist() == full["arch"].tolist()[:7]
    assert more.trajectory["cost"].to_numpy() == pytest.approx(full["cost"].to_numpy()[:7])
    # a smaller one than the journal has spent is refused (a replay would stop before the journal's end)
    with pytest.raises(SearchError, match="budget_cost"):
        run_search(_cfg(tmp_path, budget_cost=c4))
    assert SearchConfig.from_yaml((more.out / "config.yaml").read_text()).budget_cost == c7  # nothing written
    # no cost cap: the evaluation budget alone
    rest = run_search(_cfg(tmp_path))
    assert rest.evaluations == 10 and rest.trajectory["arch"].tolist() == full["arch"].tolist()


def test_reports_carry_fidelity_and_cost(tmp_path, nb201_table):
    r = run_search(_cfg(tmp_path, budget=4))
    traj = pd.read_csv(r.out / "trajectory.csv")
    assert {"fidelity", "cost", "cum_cost"} <= set(traj.columns)
    assert (traj["fidelity"] == 12).all() and traj["cum_cost"].iloc[-1] == pytest.approx(traj["cost"].sum())
    best = json.loads((r.out / "best.json").read_text())
    assert best["total_cost"] == pytest.approx(traj["cost"].sum()) and best["fidelity"] == 12
    assert best["cost_unit"].startswith("full-training equivalents") and best["budget_cost"] is None
    report = (r.out / "report.md").read_text()
    assert "- fidelity: 12 epochs" in report
    assert f"- total cost: {traj['cost'].sum():.4g} full-training equivalents" in report


def test_old_schema_journal_resumes(tmp_path, nb201_table):
    first = run_search(_cfg(tmp_path, budget=3))
    path = first.out / "journal.sqlite"
    con = sqlite3.connect(path)  # rebuild its evaluations table with the schema of before the fidelity column
    old = con.execute(
        "SELECT idx, batch, batch_size, arch, key, value, test, cost, status, error, timestamp FROM evals ORDER BY idx"
    ).fetchall()
    with con:
        con.execute("DROP TABLE evals")
        con.execute(OLD_EVALS)
        con.executemany("INSERT INTO evals VALUES (?,?,?,?,?,?,?,?,?,?,?)", old)
    assert "fidelity" not in [c[1] for c in con.execute("PRAGMA table_info(evals)")]
    con.close()
    r = run_search(_cfg(tmp_path, budget=5))
    assert r.evaluations == 5 and r.replayed == 3
    assert r.trajectory["arch"].tolist()[:3] == first.trajectory["arch"].tolist()
    assert r.trajectory["fidelity"].isna().tolist() == [True, True, True, False, False]
    con = sqlite3.connect(path)
    assert con.execute("SELECT fidelity FROM evals ORDER BY idx").fetchall()[3:] == [(12.0,), (12.0,)]
    con.close()
    assert "(some unrecorded)" in (r.out / "report.md").read_text()


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_cli_refuses_a_non_positive_budget_cost_in_one_line(capsys, tmp_path, value):
    assert main(["search", "--task", "cifar10", "--out", str(tmp_path / "s"), "--budget-cost", value]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "budget_cost" in lines[0], lines
    assert not (tmp_path / "s").exists()
