"""Ray backend on a local Ray instance (2 CPUs): several candidates, a failing one, a killed worker."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pandas as pd
import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'surrogate-nas[ray]'")

from surrogate_nas.benchmarks.table import BenchmarkTable  # noqa: E402
from surrogate_nas.training import RayBackend, TrainJob, VerifyConfig, make_job, verify  # noqa: E402
from surrogate_nas.raycluster import runtime_env  # noqa: E402
from surrogate_nas.training.backends import job_dir  # noqa: E402

from .conftest import ARCH_A, ARCH_B, ARCH_C  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", runtime_env=runtime_env(),
             log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


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


def test_killed_worker_is_retried_and_the_result_recorded_once(local_ray, tmp_path):
    from surrogate_nas.training import TrainConfig

    # a candidate that trains for a few seconds, so the test can kill its worker mid-run
    cfg = TrainConfig(epochs=8, C=16, N=1, batch_size=128, lr=0.05, progress=False, num_threads=1)
    config = VerifyConfig(dataset="digits", train=cfg, out_dir=str(tmp_path / "out"), backend="ray",
                          backend_options={"max_retries": 2})
    job = make_job(ARCH_C, "digits", cfg, tmp_path / "out" / "jobs")
    d = job_dir(job)

    box = {}
    runner = threading.Thread(target=lambda: box.setdefault("res", verify([ARCH_C], config)))
    runner.start()
    deadline = time.monotonic() + 120
    while not (d / "ckpt" / "last.json").is_file():  # first epoch checkpoint written
        assert time.monotonic() < deadline and runner.is_alive(), "training never reached its first checkpoint"
        time.sleep(0.05)
    first_pid = json.loads((d / "attempts.log").read_text().splitlines()[0])["pid"]
    assert not (d / "result.json").exists()
    os.kill(first_pid, signal.SIGKILL)
    runner.join(timeout=180)
    assert not runner.is_alive()

    res = box["res"]
    assert len(res) == 1 and res["status"].iloc[0] == "ok" and res["attempts"].iloc[0] == 2
    attempts = [json.loads(line) for line in (d / "attempts.log").read_text().splitlines()]
    assert len(attempts) == 2 and attempts[1]["pid"] != first_pid
    result = json.loads((d / "result.json").read_text())
    assert result["resumed_from_epoch"] >= 1 and len(result["history"]) == 8  # the retry resumed
    assert [h["epoch"] for h in result["history"]] == list(range(1, 9))
    # recorded exactly once: one results row, one record per metric
    assert len(pd.read_csv(tmp_path / "out" / "results.csv")) == 1
    table = BenchmarkTable.read_parquet(tmp_path / "out" / "records.parquet")
    assert sorted(table.frame["metric"]) == ["flops", "params", "test_acc", "train_seconds"]
    assert [p.name for p in (tmp_path / "out" / "jobs").iterdir()] == [job.key]


def test_a_search_round_of_q_candidates_trains_as_concurrent_ray_tasks(local_ray, tmp_path, tiny_config):
    """A guided search asking for batches of 2: each round reaches the train evaluator as one call, and its two
    candidates are Ray tasks submitted together, trained in two worker processes. (Whether they also overlap in
    time depends on worker start-up: after the killed-worker test a fresh worker can start 2 s late.)"""
    import numpy as np

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

    s = get_searcher("guided-evolution", space="nb201", seed=0, predictor=lambda a, y: ConvCount(), support="random",
                     n_support=2, acquisition="mean")
    ev = TrainEvaluator(Counting("digits", train_config=tiny_config, backend="ray", work_dir=tmp_path))
    df = run_loop(s, ev, 4, batch_size=2)
    assert calls == [2, 2] and df["batch"].tolist() == [0, 0, 1, 1]
    assert (df["status"] == "ok").all() and df["key"].is_unique
    for b in (0, 1):
        pids = [json.loads((job_dir(make_job(a, "digits", tiny_config, tmp_path)) / "attempts.log").read_text()
                           .splitlines()[0])["pid"] for a in df[df["batch"] == b]["arch"]]
        assert len(set(pids)) == 2 and os.getpid() not in pids
