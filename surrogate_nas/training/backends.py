"""Where candidates train: ``local`` (in process, or a process pool) and ``ray`` (one task each).

A :class:`TrainJob` is plain data (architecture string, dataset, config, work directory, key).
:func:`run_job` is idempotent: it keeps the candidate's checkpoint and result under
``work_dir/<key>/`` (key = hash of the space's canonical key + the config fingerprint + seed), returns
a finished result without retraining, and resumes from the last epoch checkpoint otherwise.
So when a Ray worker dies and Ray retries the task, the retry continues the run and the result is
written (atomically) exactly once; the driver also de-duplicates by key. A candidate that raises
is returned as ``status="failed"`` with its error; the others continue.
"""

from __future__ import annotations

import abc
import hashlib
import json
import os
import socket
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SurrogateNASError
from ..io import atomic_write_text
from ..registry import Registry
from ..spaces import get_space
from .config import TrainConfig
from .trainer import train

__all__ = [
    "TrainJob",
    "make_job",
    "job_dir",
    "run_job",
    "Backend",
    "LocalBackend",
    "RayBackend",
    "BACKENDS",
    "get_backend",
    "RESULT_NAME",
]

RESULT_NAME = "result.json"
ATTEMPTS_NAME = "attempts.log"


@dataclass(frozen=True)
class TrainJob:
    """One candidate to train. ``key`` names its directory under ``work_dir``."""

    arch: str
    dataset: str
    config: TrainConfig
    work_dir: str
    key: str
    data_root: str | None = None


def job_key(arch, dataset: str, config: TrainConfig, space: str = "nb201") -> str:
    sp = get_space(space)
    canonical = sp.canonical(sp.coerce(arch))
    h = hashlib.sha256(f"{sp.name}\n{canonical}\n{dataset}".encode()).hexdigest()[:16]
    return f"{h}-{config.fingerprint()}-s{config.seed}"


def make_job(arch, dataset: str, config: TrainConfig, work_dir, data_root=None, space: str = "nb201") -> TrainJob:
    """A job for ``arch`` (value or string; validated against ``space``); ``config``'s unset fields
    take ``dataset``'s recipe, so the key names what will actually be trained."""
    sp = get_space(space)
    a = sp.coerce(arch)
    config = config.resolved(dataset)
    return TrainJob(
        arch=sp.format(a),
        dataset=dataset,
        config=config,
        work_dir=str(work_dir),
        key=job_key(a, dataset, config, space),
        data_root=None if data_root is None else str(data_root),
    )


def job_dir(job: TrainJob) -> Path:
    return Path(job.work_dir) / job.key


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _failed(job: TrainJob, error: str, attempts: int | None = None) -> dict[str, Any]:
    return {
        "key": job.key,
        "arch": job.arch,
        "dataset": job.dataset,
        "seed": job.config.seed,
        "status": "failed",
        "error": error,
        "attempts": attempts,
    }


def run_job(job: TrainJob) -> dict[str, Any]:
    """Train one job (or return its recorded result); never raises for a candidate's own failure."""
    d = job_dir(job)
    d.mkdir(parents=True, exist_ok=True)
    result_path = d / RESULT_NAME
    done = _read_result(result_path)
    if done is not None and done.get("status") == "ok":
        return done
    with open(d / ATTEMPTS_NAME, "a") as fh:  # one line per attempt: pid, host, time
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    attempts = len((d / ATTEMPTS_NAME).read_text().splitlines())
    t0 = time.perf_counter()
    try:
        r = train(job.arch, job.dataset, job.config, data_root=job.data_root, checkpoint_dir=d / "ckpt")
        out = {
            "key": job.key,
            "status": "ok",
            "error": None,
            "attempts": attempts,
            "wall_seconds": time.perf_counter() - t0,
            **r.to_dict(),
        }
    except Exception as e:  # a candidate's failure is data, not a crash of the run
        out = _failed(job, f"{type(e).__name__}: {e}", attempts)
        out["traceback"] = traceback.format_exc(limit=20)
        out["wall_seconds"] = time.perf_counter() - t0
    atomic_write_text(result_path, json.dumps(out, indent=1, sort_keys=True))
    return out


# ---------------------------------------------------------------------- backends
class Backend(abc.ABC):
    """Runs jobs; returns one result dict per distinct job key, in the order of first appearance."""

    name = "backend"

    def run(self, jobs: Sequence[TrainJob]) -> list[dict[str, Any]]:
        jobs = _dedupe(jobs)
        results = self._run(jobs)
        return [results[j.key] for j in jobs]

    @abc.abstractmethod
    def _run(self, jobs: list[TrainJob]) -> dict[str, dict[str, Any]]:
        """Results keyed by job key for distinct ``jobs`` (every backend defines this)."""


def _dedupe(jobs: Sequence[TrainJob]) -> list[TrainJob]:
    seen: dict[str, TrainJob] = {}
    for j in jobs:
        if not isinstance(j, TrainJob):
            raise SurrogateNASError(f"expected TrainJob, got {type(j).__name__} {j!r}")
        seen.setdefault(j.key, j)
    return list(seen.values())


class LocalBackend(Backend):
    """Sequential in this process (``workers=1``) or a spawn process pool (``workers>1``)."""

    name = "local"

    def __init__(self, workers: int = 1, progress: bool = True):
        if not isinstance(workers, int) or workers < 1:
            raise SurrogateNASError(f"LocalBackend: workers must be a positive int, got {workers!r}")
        self.workers, self.progress = workers, progress

    def _run(self, jobs):
        if self.workers == 1 or len(jobs) <= 1:
            out = {}
            with _bar(len(jobs), self.progress) as bar:
                for j in jobs:
                    out[j.key] = run_job(j)
                    bar.update(1)
            return out
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        out: dict[str, dict[str, Any]] = {}
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(run_job, j): j for j in jobs}
            with _bar(len(jobs), self.progress) as bar:
                for fut in as_completed(futures):
                    j = futures[fut]
                    try:
                        out[j.key] = fut.result()
                    except Exception as e:  # the worker process died
                        out[j.key] = _read_result(job_dir(j) / RESULT_NAME) or _failed(j, f"{type(e).__name__}: {e}")
                    bar.update(1)
        return out

    def __repr__(self) -> str:
        return f"LocalBackend(workers={self.workers})"


def _ray_run_job(job: TrainJob) -> dict[str, Any]:
    return run_job(job)


class RayBackend(Backend):
    """One Ray task per candidate (``num_gpus=1`` when the cluster has GPUs and the job is not on cpu).

    ``address``: ``None`` starts a local Ray instance (unless one is already initialised), ``"auto"``
    joins a running cluster. ``max_retries``: how often Ray re-runs a task whose worker died; the
    retry resumes from the candidate's last epoch checkpoint. Ray is an optional extra
    (``pip install 'surrogate-nas[ray]'``).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        max_retries: int = 3,
        num_cpus_per_task: float = 1,
        num_gpus_per_task: float | None = None,
        init_kwargs: dict[str, Any] | None = None,
        progress: bool = True,
    ):
        if not isinstance(max_retries, int) or max_retries < 0:
            raise SurrogateNASError(f"RayBackend: max_retries must be an int >= 0, got {max_retries!r}")
        self.address, self.max_retries = address, max_retries
        self.num_cpus_per_task, self.num_gpus_per_task = num_cpus_per_task, num_gpus_per_task
        self.init_kwargs = dict(init_kwargs or {})
        self.progress = progress

    def _run(self, jobs):
        from ..raycluster import fan_out, remote, session

        out: dict[str, dict[str, Any]] = {}
        with session(self.address, what="backend 'ray'", **self.init_kwargs) as ray:
            has_gpu = ray.cluster_resources().get("GPU", 0) >= 1

            def submit(j):
                gpus = self.num_gpus_per_task
                if gpus is None:
                    gpus = 1 if has_gpu and j.config.device != "cpu" else 0
                task = remote(_ray_run_job, num_cpus=self.num_cpus_per_task, num_gpus=gpus,
                              max_retries=self.max_retries, name=f"train-{j.key}")  # fmt: skip
                return task.remote(j)

            failures = fan_out(
                jobs, submit, lambda j, res: out.setdefault(j.key, res), window=len(jobs) or 1,
                desc="candidates", unit="cand", total=len(jobs), progress=self.progress,
            )  # fmt: skip
        for f in failures:  # retries exhausted (the worker died each time) or a task error
            j, e = f.item, f.exception
            out.setdefault(j.key, _read_result(job_dir(j) / RESULT_NAME) or _failed(j, f"{type(e).__name__}: {e}"))
        return out

    def __repr__(self) -> str:
        return f"RayBackend(address={self.address!r}, max_retries={self.max_retries})"


def _bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="candidates", unit="cand", disable=not enabled)


BACKENDS: Registry[Backend] = Registry("training backend", Backend)
BACKENDS.register("local")(LocalBackend)
BACKENDS.register("ray")(RayBackend)


def get_backend(name_or_backend: str | Backend, **options) -> Backend:
    """A backend by name (``local`` / ``ray``) with constructor ``options``, or an instance as is."""
    try:
        return BACKENDS.get(name_or_backend, **options)
    except TypeError as e:
        raise SurrogateNASError(f"bad options {options!r} for training backend {name_or_backend!r}: {e}") from None
