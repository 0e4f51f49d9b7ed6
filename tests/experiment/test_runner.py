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
from surrogate_nas.experiment.store import DB_NAME

from .conftest import tiny_pq, tiny_se


def _quiet(msg):
    pass


@pytest.fixture(scope="module")
def pq_run(local_ray, tmp_path_factory):
    """The tiny predictor-quality grid, run once on 2 Ray workers."""
    out = tmp_path_factory.mktemp("pq") / "run"
    stats = run_experiment(tiny_pq(), out, workers=2, progress=False, log=_quiet)
    return out, stats


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


def test_rerunning_a_finished_grid_only_reports(pq_run):
    out, _ = pq_run
    before = (out / "predictor_quality_quick.csv").read_text()
    stats = run_experiment(tiny_pq(), out, workers=2, progress=False, log=_quiet)
    assert stats["computed"] == 0 and stats["checkpoints_trained"] == 0
    assert (out / "predictor_quality_quick.csv").read_text() == before


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


def test_report_of_a_run_directory(pq_run, tmp_path):
    md = write_report(pq_run[0], dest=tmp_path, log=_quiet)
    assert md == tmp_path / "predictor_quality_quick.md" and "## nb201: Kendall tau" in md.read_text()
    with pytest.raises(ExperimentError, match="not an experiment run directory"):
        write_report(tmp_path / "nothing", log=_quiet)


# ---------------------------------------------------------------------- equal to the old serial code path
def test_a_predictor_quality_cell_equals_the_old_serial_code(tmp_path, nb201_table):
    """The old script's loop body, in memory (pretrain -> split -> build -> fit/predict), seed for seed."""
    from surrogate_nas.experiment.predictor_quality import build, split
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.features import SourceValues
    from surrogate_nas.predictors.gnn import ModelConfig
    from surrogate_nas.predictors.metrics import ranking_report

    cfg = tiny_pq(ks=[10], seeds=2, methods=["meta-gnn", "ridge-source"])
    run_experiment(cfg, tmp_path / "run", workers=0, progress=False, log=_quiet)
    new = pd.read_csv(tmp_path / "run" / "predictor_quality_quick.csv")

    table, target, metric, k, seed = nb201_table, "ImageNet16-120", "test_acc", 10, 1
    train = [t for t in table.tasks if t != target]
    meta = pretrain(table, train, metric, ModelConfig(), MetaConfig(**cfg.meta), benchmark_name="nb201",
                    progress=False, target=target)
    sources = SourceValues(table, tuple(train), metric)
    archs = table.archs(target, metric)
    y = table.vector(target, metric, archs)
    sup, qry = split(table.space, archs, k, np.random.default_rng([seed, k]))
    for name in cfg.methods:
        model = build(name, table.space, sources, {"meta": meta}, seed, target)
        pred = model.fit([archs[i] for i in sup], y[sup]).predict([archs[i] for i in qry])
        old = ranking_report(y[qry], pred)
        row = new[(new["k"] == k) & (new["seed"] == seed) & (new["method"] == name)].iloc[0]
        for key, value in old.items():
            assert row[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (name, key)


def test_a_search_efficiency_cell_equals_the_old_serial_code(tmp_path, nbg_table):
    """The old run_target body for one guided-meta seed: in-memory checkpoint of meta seed s % n."""
    import dataclasses

    from surrogate_nas.experiment.runner import search_efficiency_results
    from surrogate_nas.meta.maml import MetaConfig
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig
    from surrogate_nas.search import TableEvaluator, make_searcher, run_loop

    cfg = tiny_se()
    run_experiment(cfg, tmp_path / "run", workers=0, progress=False, log=_quiet)
    traj = search_efficiency_results(tmp_path / "run")[0]
    b = cfg.benchmarks[0]
    table, task, seed = nbg_table, "cora", 1
    train = [t for t in table.tasks if t != task]
    meta = MetaConfig(**b.meta)
    ckpt = pretrain(table, train, b.metric, model_config=ModelConfig(**b.model),
                    meta_config=dataclasses.replace(meta, seed=meta.seed + seed % b.checkpoints),
                    benchmark_name="nas-bench-graph", progress=False, target=task)
    s = make_searcher("guided-evolution", table.space, seed, {"n_support": 5}, table, task, b.metric, ckpt, "meta")
    old = run_loop(s, TableEvaluator(table, task, b.metric, b.test_metric), b.guided_budget)
    new = traj[(traj["method"] == "guided-meta") & (traj["seed"] == seed)].reset_index(drop=True)
    assert list(new["arch"]) == list(old["arch"].astype(str))
    np.testing.assert_array_equal(new["best_test"].to_numpy(float), old["best_test"].to_numpy(float))
    assert (tmp_path / "run" / "search_efficiency.csv").is_file() and (tmp_path / "run" / "search_efficiency.md").is_file()
