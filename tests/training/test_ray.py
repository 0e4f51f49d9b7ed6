"""Ray backend on a local Ray instance (2 CPUs): several candidates, a failing one, a killed worker."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

import ray

from surrogate_nas.benchmarks.table import BenchmarkTable
from surrogate_nas.training import RayBackend, TrainJob, VerifyConfig, make_job, verify
from surrogate_nas.training.backends import job_dir

from .conftest import ARCH_A, ARCH_B, ARCH_C

pytestmark = pytest.mark.slow  # a Ray instance and its worker processes: run by `pytest -m slow` (.ci/run)


def test_candidates_train_as_ray_tasks_and_a_failure_is_recorded(local_ray, tmp_path, tiny_config):
    cfg = tiny_config  # 3 epochs: well above chance
    jobs = [make_job(a, "digits", cfg, tmp_path) for a in (ARCH_A, ARCH_B)]
    broken = TrainJob(arch="|not_an_op~0|", dataset="digits", config=cfg, work_dir=str(tmp_path), key="broken")
    res = RayBackend().run([jobs[0], broken, jobs[1]])

    assert [r["status"] for r in res] == ["ok", "failed", "ok"]
    assert "InvalidArchitectureError" in res[1]["error"] and "not_an_op" in res[1]["error"]
    assert all(r["test_acc"] > 50 for r in (res[0], res[2]))
    pids = {json.loads((job_dir(j) / "attempts.log").read_text().splitlines()[0])["pid"] for j in jobs}
    assert os.getpid() not in pids  # trained in Ray workers, not in the driver
    assert ray.is_initialized()  # the backend leaves a Ray instance it did not start running


def test_killed_worker_is_retried_and_the_result_recorded_once(local_ray, tmp_path, monkeypatch, tiny_config):
    """A worker dies (SIGKILL) right after its candidate's first epoch checkpoint is on disk: Ray retries the task,
    the retry resumes from that epoch, the candidate that had finished is not trained again, and each result is
    recorded once. No race: the worker kills itself at that point, on its first attempt only (a marker file)."""
    from surrogate_nas.training import backends

    marker = tmp_path / "killed"

    def run_job_dying_after_epoch_1(job):  # pickled by value into the Ray worker (a local function)
        import os as _os
        import signal as _signal

        from surrogate_nas.training import backends as _backends

        real_train = _backends.train

        def train(*args, **kwargs):
            def die_once(epoch, metrics):
                if job.arch == ARCH_C and epoch == 1:
                    try:
                        _os.close(_os.open(marker, _os.O_CREAT | _os.O_EXCL))
                    except FileExistsError:
                        return  # the retry
                    _os.kill(_os.getpid(), _signal.SIGKILL)  # last.pt of epoch 1 is already written

            return real_train(*args, callback=die_once, **kwargs)

        _backends.train = train
        try:
            return _backends.run_job(job)
        finally:
            _backends.train = real_train

    monkeypatch.setattr(backends, "_ray_run_job", run_job_dying_after_epoch_1)
    cfg = tiny_config  # 3 epochs
    out = tmp_path / "out"
    config = VerifyConfig(dataset="digits", train=cfg, out_dir=str(out), backend="ray",
                          backend_options={"max_retries": 2})
    res = verify([ARCH_A, ARCH_C], config)

    assert marker.exists()  # the kill happened
    assert res["status"].tolist() == ["ok", "ok"] and res["attempts"].tolist() == [1, 2]
    d = {a: job_dir(make_job(a, "digits", cfg, out / "jobs")) for a in (ARCH_A, ARCH_C)}
    attempts = [json.loads(line) for line in (d[ARCH_C] / "attempts.log").read_text().splitlines()]
    assert len(attempts) == 2 and attempts[1]["pid"] != attempts[0]["pid"]
    result = json.loads((d[ARCH_C] / "result.json").read_text())
    assert result["resumed_from_epoch"] == 1  # the retry resumed from the checkpoint: epoch 1 not retrained
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]
    # recorded exactly once: one results row per candidate, one record per metric
    assert len(pd.read_csv(out / "results.csv")) == 2
    table = BenchmarkTable.read_parquet(out / "records.parquet")
    assert sorted(table.frame["metric"]) == sorted(["flops", "params", "test_acc", "train_seconds"] * 2)

    # verifying again trains nothing: both results are read back, no new attempt is logged
    before = {a: (p / "attempts.log").read_text() for a, p in d.items()}
    again = verify([ARCH_A, ARCH_C], config)
    assert again["test_acc"].tolist() == res["test_acc"].tolist()
    assert {a: (p / "attempts.log").read_text() for a, p in d.items()} == before


def _two_live_workers(d):
    """Hold two Ray tasks until both run at once: two worker processes are up (an earlier test's killed worker
    may not have been replaced yet, and then one worker runs both candidates of a round, one after the other)."""

    @ray.remote(num_cpus=1)
    def hold(path):
        import os as _os
        import time as _time
        from pathlib import Path as _Path

        (_Path(path) / str(_os.getpid())).touch()
        deadline = _time.monotonic() + 60
        while len(list(_Path(path).iterdir())) < 2 and _time.monotonic() < deadline:
            _time.sleep(0.05)
        return _os.getpid()

    d.mkdir()
    assert len(set(ray.get([hold.remote(str(d)), hold.remote(str(d))]))) == 2


def test_a_search_round_of_q_candidates_trains_as_concurrent_ray_tasks(local_ray, tmp_path, tiny_config):
    """A guided search asking for batches of 2: each round reaches the train evaluator as one call, and its two
    candidates are Ray tasks submitted together, trained in two worker processes."""
    import numpy as np

    _two_live_workers(tmp_path / "warm")

    from surrogate_nas.search import TrainEvaluator, get_searcher, run_loop
    from surrogate_nas.training import TrainingEvaluator

    class ConvCount:
        def predict(self, archs, return_std=False):
            m = np.array([a.ops.count("nor_conv_3x3") for a in archs], dtype=float)
            return (m, np.zeros_like(m)) if return_std else m

    calls = []

    class Counting(TrainingEvaluator):
        def evaluate(self, archs):
            calls.append(len(archs))
            return super().evaluate(archs)

    s = get_searcher("guided", space="nb201", seed=0, predictor=lambda a, y: ConvCount(), support="random",
                     n_support=2, acquisition="mean")
    ev = TrainEvaluator(Counting("digits", train_config=tiny_config, backend="ray", work_dir=tmp_path))
    df = run_loop(s, ev, 4, batch_size=2)
    assert calls == [2, 2] and df["batch"].tolist() == [0, 0, 1, 1]
    assert (df["status"] == "ok").all() and df["key"].is_unique
    for b in (0, 1):
        pids = [json.loads((job_dir(make_job(a, "digits", tiny_config, tmp_path)) / "attempts.log").read_text()
                           .splitlines()[0])["pid"] for a in df[df["batch"] == b]["arch"]]
        assert len(set(pids)) == 2 and os.getpid() not in pids
