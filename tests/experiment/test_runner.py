"""The grid runner: a tiny grid on a local Ray instance (2 workers), a worker killed mid-run, resume,
and a cell's numbers equal to the old serial script's code path."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3

import numpy as np
import pandas as pd
import pytest

from surrogate_nas.experiment import ExperimentError, plan, run_experiment, write_report
from surrogate_nas.experiment.runner import search_efficiency_results
from surrogate_nas.experiment.store import DB_NAME

from .conftest import tiny_pq, tiny_se


def _quiet(msg):
    pass


#: The tests of a grid on a local Ray instance (2 workers): Ray's start and its worker processes take ~30-60 s
#: on 2 cores, so they run in the slow suite (`pytest -m slow`, run by .ci/run); the cells' numbers are
#: checked in-process below, in the fast suite.
ray_slow = pytest.mark.slow


@pytest.fixture(scope="module")
def pq_run(local_ray, tmp_path_factory):
    """The tiny predictor-quality grid, run once on 2 Ray workers."""
    out = tmp_path_factory.mktemp("pq") / "run"
    stats = run_experiment(tiny_pq(), out, workers=2, progress=False, log=_quiet)
    return out, stats


@ray_slow
def test_tiny_grid_on_two_ray_workers(pq_run):
    out, stats = pq_run
    cfg = tiny_pq()
    specs, cells = plan(cfg)
    assert stats["computed"] == len(cells) == 2 * 2 * 2 and stats["checkpoints_trained"] == len(specs) == 1
    df = pd.read_csv(out / "predictor_quality_quick.csv")
    assert len(df) == 2 * 2 * 3 and set(df["method"]) == set(cfg.methods)
    assert df[["kendall_tau", "spearman_rho"]].notna().all().all()
    assert (out / "predictor_quality_quick.md").read_text().startswith("# Predictor quality")
    assert (out / "predictor_quality_quick.png").stat().st_size > 0
    assert (out / "checkpoints" / specs[0].key / "model.pt").is_file()
    with sqlite3.connect(out / DB_NAME) as con:
        pids = {r[0] for r in con.execute("SELECT json_extract(info, '$.pid') FROM cells")}
    assert os.getpid() not in pids  # cells ran in Ray workers


@ray_slow
def test_rerunning_a_finished_grid_only_reports(pq_run):
    out, _ = pq_run
    before = (out / "predictor_quality_quick.csv").read_text()
    stats = run_experiment(tiny_pq(), out, workers=2, progress=False, log=_quiet)
    assert stats["computed"] == 0 and stats["checkpoints_trained"] == 0
    assert (out / "predictor_quality_quick.csv").read_text() == before


@ray_slow
def test_resume_computes_only_the_missing_cells(pq_run, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(pq_run[0], out)
    with sqlite3.connect(out / DB_NAME) as con:  # a run killed before these two cells were committed
        con.execute("DELETE FROM cells WHERE key IN (SELECT key FROM cells ORDER BY key LIMIT 2)")
    with sqlite3.connect(out / DB_NAME) as con:
        assert con.execute("SELECT COUNT(*) FROM cells").fetchone()[0] == 6
    seen = []
    stats = run_experiment(tiny_pq(), out, workers=0, progress=False, log=_quiet,
                           before_cell=lambda coords: seen.append(coords))
    assert stats["computed"] == 2 and len(seen) == 2 and stats["checkpoints_trained"] == 0  # checkpoint reused
    a = pd.read_csv(pq_run[0] / "predictor_quality_quick.csv").drop(columns="seconds")
    b = pd.read_csv(out / "predictor_quality_quick.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)  # recomputed in another process: the same numbers


@ray_slow
def test_a_failed_cell_fails_the_run_and_a_rerun_finishes_it(local_ray, tmp_path):
    out = tmp_path / "run"
    cfg = tiny_pq(methods=["ridge-source"], ks=[5])

    def fail_seed_1(coords):
        if coords["seed"] == 1:
            raise RuntimeError("boom")

    with pytest.raises(ExperimentError, match="1 task\\(s\\) failed .* rerun .* RuntimeError: boom"):
        run_experiment(cfg, out, workers=2, progress=False, log=_quiet, before_cell=fail_seed_1)
    stats = run_experiment(cfg, out, workers=2, progress=False, log=_quiet)
    assert stats["computed"] == 1 and stats["cells"] == 2


@ray_slow
def test_a_killed_worker_is_retried_and_every_cell_recorded_once(pq_run, local_ray, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    shutil.copytree(pq_run[0] / "checkpoints", out / "checkpoints")  # reuse the meta-training
    shutil.copy(pq_run[0] / "config.yaml", out / "config.yaml")
    marker = tmp_path / "killed"

    def kill_first_attempt(coords):
        if coords["k"] == 10 and coords["seed"] == 1 and coords["group"] == "baselines":
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return  # the retry
            os.kill(os.getpid(), signal.SIGKILL)  # this Ray worker dies mid-run

    stats = run_experiment(tiny_pq(), out, workers=2, progress=False, log=_quiet, before_cell=kill_first_attempt,
                           max_retries=2)
    assert marker.exists() and stats["computed"] == stats["cells"] == 8 and stats["checkpoints_trained"] == 0
    with sqlite3.connect(out / DB_NAME) as con:
        keys = [r[0] for r in con.execute("SELECT key FROM cells")]
    assert len(keys) == len(set(keys)) == 8
    df = pd.read_csv(out / "predictor_quality_quick.csv")
    assert len(df) == 12 and not df.duplicated(["k", "seed", "method"]).any()
    a = pd.read_csv(pq_run[0] / "predictor_quality_quick.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, df.drop(columns="seconds"))


@ray_slow
def test_report_of_a_run_directory(pq_run, tmp_path):
    md = write_report(pq_run[0], dest=tmp_path, log=_quiet)
    assert md == tmp_path / "predictor_quality_quick.md" and "## nb201: Kendall tau" in md.read_text()
    from surrogate_nas.cli import main

    results = tmp_path / "results"  # the CLI writes the report straight into e.g. experiments/results
    assert main(["experiment", "report", str(pq_run[0]), "--dest", str(results)]) == 0
    assert (results / "predictor_quality_quick.md").read_text() == md.read_text()
    with pytest.raises(ExperimentError, match="not an experiment run directory"):
        write_report(tmp_path / "nothing", log=_quiet)


# ---------------------------------------------------------------------- what a cell computes (in-process)
def test_a_predictor_quality_cell_depends_only_on_its_coordinates_and_ranks_the_target(tmp_path, nb201_table):
    """A cell's numbers are a function of (benchmark, target, K, seed, method) alone: the same cell in another grid
    (other Ks and methods around it, another checkpoint in the run) has the same numbers; another seed draws
    another support; and they are rank correlations on the target's records (the cifar sources rank
    ImageNet16-120 well)."""
    a_cfg = tiny_pq(ks=[10], seeds=2, methods=["meta-gnn", "ridge-source"])
    b_cfg = tiny_pq(ks=[5, 10], seeds=2, methods=["ridge-source"])
    run_experiment(a_cfg, tmp_path / "a", workers=0, progress=False, log=_quiet)
    run_experiment(b_cfg, tmp_path / "b", workers=0, progress=False, log=_quiet)
    a = pd.read_csv(tmp_path / "a" / "predictor_quality_quick.csv").drop(columns="seconds")
    b = pd.read_csv(tmp_path / "b" / "predictor_quality_quick.csv").drop(columns="seconds")
    assert len(a) == 1 * 2 * 2 and len(b) == 2 * 2 * 1
    key = ["k", "seed", "method"]
    shared = a[a["method"] == "ridge-source"].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(shared, b[b["k"] == 10].sort_values(key).reset_index(drop=True))
    metrics = ["kendall_tau", "spearman_rho"]
    for _, g in a.groupby("method"):  # two seeds, two supports: different numbers
        assert not np.allclose(g[metrics].iloc[0], g[metrics].iloc[1])
    assert a[metrics].abs().le(1).all().all() and (np.sign(a["kendall_tau"]) == np.sign(a["spearman_rho"])).all()
    assert (a["kendall_tau"] > 0.6).all()  # measured 0.85 for both methods and seeds


def test_a_search_efficiency_cell_is_a_search_on_the_records(tmp_path, nbg_table):
    """Each cell's trajectory is a search of its budget on the target's records: distinct architectures (by
    canonical key), each valued at its record, best-so-far the running maximum, and the reported test value the
    record of the best-so-far architecture; seeds search differently."""
    from surrogate_nas.experiment import SEBenchmark

    bench = SEBenchmark("nas-bench-graph", ["cora"], "valid_perf", "test_perf", train_tasks=["citeseer", "pubmed"],
                        seeds=2, budget=10, guided_budget=6, meta={"iterations": 4, "val_every": 2, "seed": 0},
                        model={"hidden": 16, "layers": 2})
    cfg = tiny_se(benchmarks=[bench])
    run_experiment(cfg, tmp_path / "run", workers=0, progress=False, log=_quiet)
    traj = search_efficiency_results(tmp_path / "run")[0]
    b = cfg.benchmarks[0]
    space = nbg_table.space
    valid = nbg_table.series("cora", b.metric)
    test = nbg_table.series("cora", b.test_metric)
    budgets = {"random": b.budget, "guided-meta": b.guided_budget}
    for (method, seed), t in traj.groupby(["method", "seed"]):
        t = t.sort_values("evaluation")
        archs = t["arch"].astype(str).tolist()
        assert t["evaluation"].tolist() == list(range(1, budgets[method] + 1)), (method, seed)
        assert len({space.canonical(space.parse(a)) for a in archs}) == len(archs)
        np.testing.assert_array_equal(t["value"].to_numpy(float), valid.loc[archs].to_numpy(float))
        best = np.maximum.accumulate(t["value"].to_numpy(float))
        np.testing.assert_array_equal(t["best_value"].to_numpy(float), best)
        first_best = [archs[int(np.argmax(t["value"].to_numpy(float)[: i + 1]))] for i in range(len(archs))]
        np.testing.assert_array_equal(t["best_test"].to_numpy(float), test.loc[first_best].to_numpy(float))
    for method, t in traj.groupby("method"):
        by_seed = [g.sort_values("evaluation")["arch"].tolist() for _, g in t.groupby("seed")]
        assert by_seed[0] != by_seed[1], method
    assert (tmp_path / "run" / "search_efficiency.csv").is_file() and (tmp_path / "run" / "search_efficiency.md").is_file()


def test_the_progress_bar_counts_checkpoints_while_they_train(tmp_path, capsys):
    cfg = tiny_pq(ks=[5], seeds=1, methods=["meta-gnn", "rf"])
    stats = run_experiment(cfg, tmp_path / "run", workers=0, progress=True, log=_quiet, report=False)
    err = capsys.readouterr().err
    assert stats["checkpoints_trained"] == 1 and stats["cells"] == 2
    assert "checkpoints + cells" in err and "3/3" in err  # 1 checkpoint + 2 cells, the checkpoint first
    assert "1/3" in err.split("2/3")[0]


def test_the_deep_kernel_groups_start_from_the_default_for_the_metric():
    """A predictor-quality grid on a hardware metric meta-trains its deep-kernel groups (the default's settings) with
    the default's linear kernel; the other groups, accuracy grids and a group's own kernel are as configured."""
    from surrogate_nas.experiment import PQBenchmark
    from surrogate_nas.experiment.runner import _member_checkpoints

    cfg = tiny_pq()

    def kernel(metric: str, group: str):
        [(_, spec)] = _member_checkpoints(cfg, PQBenchmark("nb201", metric, ["t"]), "t", group)[:1]
        return dict(spec.meta).get("kernel")

    assert kernel("latency_ms", "dkt") == "linear" and kernel("test_acc", "dkt") is None  # None: MetaConfig's rbf
    assert kernel("latency_ms", "dkt-graph") == "rbf+graph" and kernel("latency_ms", "meta") is None
    assert kernel("latency_ms", "dkt-ens") == "linear"
    cfg = tiny_pq(meta={"iterations": 6, "val_every": 3, "seed": 0, "kernel": "matern"})
    assert kernel("latency_ms", "dkt") == "matern"  # the config's meta: wins over the metric's default


def test_the_deep_kernel_groups_keep_the_metrics_default_over_the_configs_meta():
    """The default's own settings (DEFAULT_META's keys) are the metric's in a grid, whatever the config's meta block
    (the MAML groups') says: a hardware metric's members meta-validate on a seed-drawn task with an unweighted ranking
    loss, as pretrain builds them; an accuracy metric's on the task per seed, top-weighted; a group's own override
    (meta-dkt-ens-top-0, meta-dkt-ens-task) still wins; the MAML group keeps the config's meta."""
    from surrogate_nas.experiment import PQBenchmark
    from surrogate_nas.experiment.runner import _member_checkpoints
    from surrogate_nas.meta.maml import default_meta_config

    cfg = tiny_pq(meta={"iterations": 6, "val_every": 3, "seed": 0, "meta_val": "archs", "top_weight": 0.5})

    def meta(metric: str, group: str) -> dict:
        return dict(_member_checkpoints(cfg, PQBenchmark("nb201", metric, ["t"]), "t", group)[0][1].meta)

    for metric in ("latency_ms", "test_acc"):
        want = default_meta_config(metric)
        got = meta(metric, "dkt-ens")
        assert (got["meta_val"], got["top_weight"], got.get("kernel", "rbf")) == \
            (want.meta_val, want.top_weight, want.kernel)
    assert (meta("latency_ms", "dkt")["meta_val"], meta("latency_ms", "dkt")["top_weight"]) == ("task", 0.0)
    assert (meta("test_acc", "dkt")["meta_val"], meta("test_acc", "dkt")["top_weight"]) == ("task-seed", 1.0)
    assert meta("test_acc", "dkt-ens-top-0")["top_weight"] == 0.0 and meta("test_acc", "dkt-ens-task")["meta_val"] == "task"
    assert (meta("test_acc", "meta")["meta_val"], meta("test_acc", "meta")["top_weight"]) == ("archs", 0.5)


def test_a_grid_on_a_recorded_hardware_metric_leaves_it_out_of_the_free_features(nbg_table):
    """NAS-Bench-Graph records latency and params as free features; predicting latency, the grid's target data reads
    params only (a predicted value is never an input) instead of refusing the target."""
    from surrogate_nas.experiment.predictor_quality import target_data

    d = target_data(nbg_table, "nas-bench-graph", "pubmed", "latency")
    assert d.features.names == ("params",) and "pubmed" not in d.sources.tasks
    assert target_data(nbg_table, "nas-bench-graph", "pubmed", "valid_perf").features.names == ("params", "latency")
