"""The ``surrogate-nas`` command line: a thin layer that turns arguments into library calls.

Every command takes ``--config FILE.yaml``: the same dataclass configuration the library uses
(``SearchConfig`` for ``search``; ``model:`` = ModelConfig and ``meta:`` = MetaConfig for
``pretrain``; VerifyConfig with ``train:`` = TrainConfig for ``verify``), or for the other commands
their options by name. Unknown keys are refused; options given on the command line override the
file. Bad input ends in one line ``surrogate-nas: error: ...`` and exit status 2.

Imports are lazy (inside the command functions): ``predict`` never pays for search or training.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import SurrogateNASError

PROG = "surrogate-nas"

DESCRIPTION = (
    "Meta-learned surrogate predictors for neural architecture search: pretrain a GNN predictor on "
    "benchmark records, predict a new task from a few measurements, search with it, verify the winners "
    "by real training. Every command takes --config FILE.yaml; options given on the command line "
    "override the file's values. `surrogate-nas COMMAND --help` lists a command's options with their defaults."
)

#: Default target metric per built-in benchmark for ``pretrain``.
DEFAULT_METRIC = {"nb201": "test_acc", "nas-bench-graph": "valid_perf", "nas-bench-graph-proteins": "valid_perf"}
#: ``data list`` fits this many columns (``--verbose`` shows everything).
WIDTH = 100


class UsageError(SurrogateNASError):
    """Bad command-line usage (argparse's complaints, as one line)."""


# ---------------------------------------------------------------------- data
def _cmd_data_list(args) -> int:
    import pandas as pd

    from .benchmarks import readers
    from .benchmarks.cache import ENV_VAR, data_dir

    rows, notes = [], []

    def add(name: str, space: str, status: str, location: str, license: str, load) -> None:
        row: dict[str, Any] = {
            "name": name,
            "space": space,
            "status": status,
            "archs": "",
            "tasks": "",
            "metrics": "",
            "fidelities": "",
            "location": location,
            "license": license,
        }
        if load is not None:
            try:
                t = load()
            except Exception as e:  # noqa: BLE001 - one damaged table must not hide the others
                row["status"] = "broken"
                notes.append(f"{name}: broken: {_one_line(e)}")
            else:
                row.update(
                    space=t.space.name,
                    archs=t.frame["arch"].nunique(),
                    tasks=",".join(t.tasks) if args.verbose else len(t.tasks),
                    metrics=",".join(t.metrics()),
                    fidelities=",".join(f"{x:g}" for x in t.fidelities()) or "-",
                )
        rows.append(row)

    for src in readers.SOURCES.values():
        ok = src.available()
        add(
            src.name,
            src.space,
            "available" if ok else "missing",
            src.location(),
            src.license,
            (lambda n=src.name: readers.load_benchmark(n)) if ok else None,
        )
        if not ok:
            notes.append(f"{src.name}: missing; run `{PROG} data fetch {src.name}`")
    for name in readers.imported_tables():
        add(
            name,
            "?",
            "imported",
            str(readers._imported_dir() / f"{name}.parquet"),
            "user data",
            lambda n=name: readers.load_benchmark(n),
        )
    cols = ["name", "space", "status", "archs", "tasks", "metrics", "fidelities"] + (
        ["location", "license"] if args.verbose else []
    )
    print(f"data dir: {data_dir()}" + (f"  (override with ${ENV_VAR})" if args.verbose else ""))
    frame = pd.DataFrame(rows)[cols]
    print(_table(frame) if args.verbose else _fit(frame, WIDTH))
    print("\n" + (_table(_data_files(args.verbose)) if args.verbose else _fit(_data_files(False), WIDTH)))
    for note in notes:
        print(note if args.verbose else _clip(note, WIDTH))
    if not args.verbose:
        print(f"(--verbose: all names, locations, licenses, full messages; ${ENV_VAR}: another data dir)")
    return 0


def _data_files(verbose: bool):
    """The data files that are not benchmarks of their own (free features, params/FLOPs, other fidelities)."""
    import pandas as pd

    from .benchmarks import readers
    from .benchmarks.cache import REMOTE_FILES, locate

    rows = []
    for rf in REMOTE_FILES.values():
        if rf.name in readers.SOURCES:
            continue
        try:
            where, status = str(locate(rf.name)), "available"
        except SurrogateNASError:
            where, status = "", "missing"
        rows.append(
            {"data file": rf.name, "status": status, "holds": rf.description, "location": where, "license": rf.license}
        )
    return pd.DataFrame(rows)[["data file", "status", "holds"] + (["location", "license"] if verbose else [])]


def _cmd_data_fetch(args) -> int:
    from .benchmarks.cache import fetch, install_from

    if args.source and args.url:
        raise UsageError("data fetch: give --from FILE or --url URL, not both")
    if args.source:
        path = install_from(args.name, args.source, force=args.force)
    else:
        path = fetch(args.name, force=args.force, url=args.url)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0


def _cmd_data_features(args) -> int:
    _require(args, "space")
    from .features import compute

    out = compute(
        args.space,
        out=args.out,
        store=args.store,
        dataset=args.dataset,
        data_root=args.data_root,
        batch_size=args.batch_size,
        seed=args.seed,
        address=args.address,
        workers=args.workers,
        limit=args.limit,
        progress=args.progress,
    )
    print(f"free features of {args.space} -> {out}")
    return 0


def _cmd_data_import(args) -> int:
    _require(args, "space")
    import warnings

    from .benchmarks import import_table
    from .benchmarks.kinds import RepeatedMeasurementsWarning
    from .benchmarks.readers import imported_tables

    before = set(imported_tables())
    with warnings.catch_warnings(record=True) as notes:
        warnings.simplefilter("always", RepeatedMeasurementsWarning)
        name, dest, table = import_table(
            args.file,
            args.space,
            name=args.name,
            arch_column=args.arch_column,
            metric=args.metric,
            task=args.task,
            lower_is_better=args.lower_is_better,
        )
    for w in notes:
        if issubclass(w.category, RepeatedMeasurementsWarning):
            print(f"note: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(f"imported {len(table)} records of {table.frame['arch'].nunique()} architectures as {name!r} -> {dest}")
    if name in before:
        print(f"note: it replaces the table imported earlier as {name!r}", file=sys.stderr)
    if args.lower_is_better:
        print("recorded as lower-is-better; pretrain on it with --lower-is-better (predict follows the checkpoint)")
    _print_frame(table.summary())
    return 0


def _cmd_measure_latency(args) -> int:
    _require(args, "space", "out")
    if args.space != "nb201":
        raise UsageError(f"measure latency: --space {args.space!r}: only nb201 has a network to time")
    from .io import check_writable
    from .training.latency import DEFAULT_SETTINGS, measure, parse_settings, sample_cells

    settings = parse_settings(args.settings or DEFAULT_SETTINGS)
    cells = sample_cells(args.sample, args.seed)
    if args.limit is not None:
        cells = cells[: args.limit]
    check_writable(args.out, "--out")
    if args.store:
        check_writable(args.store, "--store")
    out = measure(
        cells,
        settings,
        out=args.out,
        store=args.store,
        repeats=args.repeats,
        warmup=args.warmup,
        seed=args.seed,
        progress=args.progress,
    )
    print(f"latency of {len(cells)} cells x {len(settings)} settings (ms per batch) -> {out}")
    return 0


# ---------------------------------------------------------------------- records
def _cmd_records_summary(args) -> int:
    from .benchmarks import load_benchmark

    table = load_benchmark(args.benchmark)
    print(
        f"{args.benchmark}: space {table.space.name}, {len(table)} records, "
        f"{table.frame['arch'].nunique()} architectures, source {table.source}"
    )
    _print_frame(table.summary())
    return 0


def _cmd_records_top(args) -> int:
    from .benchmarks import load_benchmark

    _require(args, "task")
    table = load_benchmark(args.benchmark)
    metric = _metric(args.metric, table, args.benchmark, args.task)
    s = table.series(args.task, metric).sort_values(ascending=args.ascending)
    _print_frame(s.head(args.n).rename(metric).reset_index())
    return 0


def _metric(given: str | None, table, benchmark: str, task: str | None = None) -> str:
    """``--metric``: as given, else the built-in benchmark's default, else the table's only metric."""
    have = table.metrics(task) if task in table.tasks else table.metrics()
    metric = given or DEFAULT_METRIC.get(benchmark) or (have[0] if len(have) == 1 else None)
    if metric is None:
        raise SurrogateNASError(f"--metric is required for benchmark {benchmark!r}; metrics: {', '.join(have)}")
    return metric


# ---------------------------------------------------------------------- pretrain / predict
#: pretrain flags that set ModelConfig / MetaConfig fields (dest -> field).
PRETRAIN_MODEL = {"conv": "conv", "hidden": "hidden", "layers": "layers", "use_sources": "use_sources"}
PRETRAIN_META = {
    "algorithm": "algorithm",
    "first_order": "first_order",
    "meta_sgd": "meta_sgd",
    "inner_steps": "inner_steps",
    "inner_lr": "inner_lr",
    "outer_lr": "outer_lr",
    "iterations": "iterations",
    "meta_batch": "meta_batch",
    "kernel": "kernel",
    "target_scale": "target_scale",
    "top_weight": "top_weight",
    "gp_head": "gp_head",
    "meta_val": "meta_val",
    "seed": "seed",
    "device": "device",
}
PRETRAIN_TOP = (
    "benchmark",
    "target",
    "train_tasks",
    "val_tasks",
    "metric",
    "lower_is_better",
    "features",
    "members",
    "out",
    "threads",
    "progress",
)
#: pretrain's defaults that differ from MetaConfig's: the chosen meta-predictor (deep-kernel GP head, robust
#: target scaling; a 3-member ensemble over meta seeds, --members). Written out, like the choices below, so the
#: CLI imports nothing heavy; a test checks them against surrogate_nas.meta.defaults.
PRETRAIN_DEFAULTS = {"algorithm": "dkt", "target_scale": "robust"}
#: Choices of --algorithm / --kernel / --target-scale / --meta-val (maml.ALGORITHMS, KERNELS, support.SCALES,
#: META_VAL; written out so that --help does not import torch).
ALGORITHMS = ("maml", "reptile", "multitask", "dkt")
KERNELS = ("rbf", "matern", "linear", "rbf+graph")
TARGET_SCALES = ("zscore", "robust")
META_VALS = ("task", "archs")


def _cmd_pretrain(args) -> int:
    import json
    import time

    import torch
    import yaml

    from .benchmarks import load_benchmark
    from .meta.ensemble import check_model_dir, save_model
    from .meta.maml import MetaConfig
    from .meta.pretrain import pretrain_members
    from .predictors.gnn import ModelConfig

    _require(args, "out")
    model_cfg = ModelConfig(
        **{**args.extra.get("model", {}), **{f: getattr(args, d) for d, f in PRETRAIN_MODEL.items()}}
    )
    meta_cfg = MetaConfig(**{**args.extra.get("meta", {}), **{f: getattr(args, d) for d, f in PRETRAIN_META.items()}})
    train_tasks = _task_list(args.train_tasks, "--train-tasks")
    val_tasks = _task_list(args.val_tasks, "--val-tasks")
    out = check_model_dir(args.out)  # before any work
    table = load_benchmark(args.benchmark)
    metric = _metric(args.metric, table, args.benchmark)
    features = _features(args.features, table, args.target)
    if args.target and args.target not in table.tasks:
        print(
            f"note: target {args.target!r} is not a task of {args.benchmark} (tasks: {', '.join(table.tasks)}); "
            "nothing is held out for it",
            file=sys.stderr,
        )
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    seeds = [meta_cfg.seed + i for i in range(args.members)]  # meta seeds seed, seed + 1, ...
    cfgs = [MetaConfig(**{**meta_cfg.to_dict(), "seed": s}) for s in seeds]
    ckpts = pretrain_members(
        cfgs,
        dict(
            table=table,
            train_tasks=train_tasks or None,
            metric=metric,
            model_config=model_cfg,
            val_tasks=val_tasks,
            benchmark_name=args.benchmark,
            higher_is_better=not args.lower_is_better,
            target=args.target,
            features=features,
        ),
        workers=args.workers,
        threads=args.threads,
        progress=args.progress,
        on_member=_member_line(len(cfgs)),
    )
    tasks = list(ckpts[0].info["train_tasks"])

    def record(members: int, seed: int) -> str:
        r = {
            "benchmark": args.benchmark,
            "target": args.target,
            "metric": metric,
            "train_tasks": tasks,
            "val_tasks": val_tasks,
            "features": list(features),
            "lower_is_better": args.lower_is_better,
            "members": members,
            "model": model_cfg.to_dict(),
            "meta": {**meta_cfg.to_dict(), "seed": seed},
        }
        return yaml.safe_dump(json.loads(json.dumps(r)), sort_keys=False)  # tuples -> lists: valid --config input

    # each member's own pretrain.yaml remakes it alone; the top one remakes the whole ensemble
    save_model(
        ckpts,
        out,
        extra={"pretrain.yaml": record(args.members, meta_cfg.seed)},
        member_extra=[{"pretrain.yaml": record(1, meta_cfg.seed + i)} for i in range(args.members)],
    )
    taus = ", ".join(f"{c.info['best_val_tau']:.3f}" for c in ckpts)
    what = "checkpoint" if args.members == 1 else f"ensemble of {args.members}"
    print(
        f"meta-trained on {', '.join(tasks)} ({metric}) in {time.perf_counter() - t0:.1f}s; "
        f"meta-validation Kendall tau {taus}; {what} -> {out}"
    )
    return 0


def _missing_sources(member, space, archs):
    """Per architecture, how many of the source tasks the adapted predictor reads have no value for it (None when
    it reads none): an imported table covers only its own rows."""
    import numpy as np

    sources = getattr(member, "sources_", None)
    if sources is None or not sources.tasks:
        return None
    return np.isnan(np.asarray(sources(space, archs), dtype=float)).sum(axis=1)


def _member_line(n: int):
    """The ``on_member`` of :func:`~surrogate_nas.meta.pretrain.pretrain_members`: one line per finished member
    (none for a single checkpoint), with the time left at the rate so far."""
    import time

    t0 = time.perf_counter()

    def done(ckpt, seed: int, k: int) -> None:
        if n > 1:
            left = (time.perf_counter() - t0) / k * (n - k)
            print(
                f"member {k}/{n} (meta seed {seed}) done at {time.perf_counter() - t0:.0f}s, "
                f"meta-validation Kendall tau {ckpt.info['best_val_tau']:.3f}"
                + (f"; ~{left:.0f}s left" if k < n else ""),
                flush=True,
            )

    return done


def _features(text: str | None, table, target: str | None) -> tuple[str, ...]:
    """--features: comma-separated names, or ``all`` (every free feature the benchmark has)."""
    from .features import available_features

    if not text:
        return ()
    if text.strip() == "all":
        task = target if target in table.tasks else table.tasks[0]
        return available_features(table, task)
    return tuple(n.strip() for n in text.split(",") if n.strip())


def _cmd_predict(args) -> int:
    import numpy as np
    import pandas as pd

    from .io import atomic_write_text, check_writable

    _require(args, "model", "support", "out")
    if args.all and args.archs:
        raise UsageError("predict: give --archs FILE or --all, not both")
    if not (args.all or args.archs):
        raise UsageError("predict: say which architectures to predict: --archs FILE or --all")
    steps = _inner_steps(args.inner_steps)
    check_writable(args.out, "--out")
    support = _read_table(args.support, "support file")
    for col, flag in ((args.arch_column, "--arch-column"), (args.value_column, "--value-column")):
        if col not in support.columns:
            raise SurrogateNASError(
                f"support file {args.support}: no column {col!r} ({flag}); "
                f"columns: {', '.join(map(str, support.columns))}"
            )
    values = _numbers(support[args.value_column], f"support file {args.support}, column {args.value_column!r}")

    from .meta.adapt import MetaGNNPredictor, adapt
    from .meta.ensemble import MetaEnsemble, load_model

    ckpt = load_model(args.model)  # a checkpoint, or an ensemble's members
    space = ckpt[0].space if isinstance(ckpt, list) else ckpt.space
    archs_in = _parse_archs(space, support[args.arch_column].tolist(), f"support file {args.support}", "data row")
    metric = (ckpt[0] if isinstance(ckpt, list) else ckpt).target_metric
    _refuse_repeats(space, archs_in, f"support file {args.support}", metric)
    archs = space.enumerate() if args.all else _read_arch_list(space, args.archs)
    options = dict(task=args.task, inner_steps=steps, n_members=args.members, seed=args.seed)
    pred: MetaEnsemble | MetaGNNPredictor
    if isinstance(ckpt, list):
        pred = MetaEnsemble(ckpt, **options).fit(archs_in, values)
        steps_used = "/".join(dict.fromkeys(str(m.steps_) for m in pred.members_))
        how = f"{len(ckpt)} members, {steps_used} inner steps each"
    else:
        pred = adapt(ckpt, (archs_in, values), **options)
        how = f"{pred.steps_} inner steps"
    if args.members > 0:
        mean, std = pred.predict(archs, return_std=True)
    else:
        mean, std = pred.predict(archs), np.full(len(archs), np.nan)
    measured = {a: v for a, v in zip(archs_in, values)}
    out = pd.DataFrame(
        {
            "arch": [space.format(a) for a in archs],
            "key": [space.canonical(a) for a in archs],
            "predicted": mean,
            "std": std,
            "measured": [measured.get(a, np.nan) for a in archs],
        }
    )
    missing = _missing_sources(pred.members_[0] if isinstance(pred, MetaEnsemble) else pred, space, archs)
    if missing is not None and missing.any():
        out["sources_missing"] = missing
        n_src = len((ckpt[0] if isinstance(ckpt, list) else ckpt).sources.get("tasks") or [])
        print(
            f"note: {int((missing > 0).sum())} of {len(archs)} architectures lack values of some of the {n_src} "
            "source tasks (column sources_missing: how many); their predictions lean on the graph alone",
            file=sys.stderr,
        )
    lower = not (ckpt[0] if isinstance(ckpt, list) else ckpt).sources.get("higher_is_better", True)
    out = out.sort_values("predicted", ascending=lower, kind="stable")  # the best first, as the metric orders
    out.insert(0, "rank", np.arange(1, len(out) + 1))  # what `verify --top-k` ranks by: 1 = best predicted
    atomic_write_text(args.out, out.to_csv(index=False))
    order = "lowest" if lower else "highest"
    print(
        f"adapted on {len(measured)} measured architectures ({how}); predicted {len(out)}, {order} first -> {args.out}"
    )
    if args.show > 0:
        _print_frame(out.head(args.show))
    return 0


# ---------------------------------------------------------------------- search / verify
#: search flags that set SearchConfig fields (dest -> field); --option goes into ``options``.
SEARCH_FIELDS = {
    "space": "space",
    "task": "task",
    "strategy": "strategy",
    "model": "model",
    "predictor": "predictor",
    "budget": "budget",
    "evaluator": "evaluator",
    "benchmark": "benchmark",
    "metric": "metric",
    "test_metric": "test_metric",
    "batch_size": "batch_size",
    "constraint": "constraint",
    "constraint_mode": "constraint_mode",
    "data_root": "data_root",
    "seed": "seed",
    "out": "out",
    "progress": "progress",
}


def _cmd_search(args) -> int:
    _require(args, "task", "out")
    options = dict(_mapping(args, "options"))
    options.update(_options(args.option or []))
    fields = {
        **{k: v for k, v in args.extra.items() if k != "options"},
        **{f: getattr(args, d) for d, f in SEARCH_FIELDS.items()},
        "options": options,
    }
    if fields.get("evaluator") == "train":
        import surrogate_nas.training  # noqa: F401 - registers the "train" evaluator

    import torch

    from .search.run import SearchConfig, run_search

    cfg = SearchConfig.from_dict(fields)
    torch.set_num_threads(args.threads)
    res = run_search(cfg)
    print(f"{res.evaluations} evaluations ({res.replayed} resumed from the journal) in {res.seconds:.1f}s")
    same = res.config.test_metric == res.config.metric
    print(
        f"best: {res.best_arch}  {res.config.metric} {res.best_value:.4f}"
        + ("" if same else f"  {res.config.test_metric} {res.best_test:.4f}")
    )
    if res.info.get("noise_free"):
        from .search.benchmark_tables import NOISE_FREE

        print(
            f"({NOISE_FREE}; the published NB-201 protocol searches valid_acc@12 and reports test_acc@200)"
            if res.config.benchmark == "nb201"
            else f"({NOISE_FREE})"
        )
    if getattr(res, "note", None):
        print(res.note)
    if res.scored_per_second:
        print(f"predictor-scored candidates per second: {res.scored_per_second:,.0f}")
    print(f"results -> {res.out}")
    return 0


#: verify flags that set VerifyConfig fields / TrainConfig fields (dest -> field).
VERIFY_FIELDS = {
    "space": "space",
    "dataset": "dataset",
    "data_root": "data_root",
    "seeds": "seeds",
    "backend": "backend",
    "top_k": "top_k",
    "append_to": "append_to",
    "out": "out_dir",
}
VERIFY_TRAIN = {
    "epochs": "epochs",
    "batch_size": "batch_size",
    "lr": "lr",
    "C": "C",
    "N": "N",
    "device": "device",
    "precision": "precision",
    "channels_last": "channels_last",
    "compile": "compile",
}


def _cmd_verify(args) -> int:
    _require(args, "archs")

    from .training import TrainConfig, VerifyConfig, verify

    train_fields = {**args.extra.get("train", {}), **{f: getattr(args, d) for d, f in VERIFY_TRAIN.items()}}
    train_fields.setdefault("seed", args.seeds[0])
    opts = dict(_mapping(args, "backend_options"))
    if args.address:
        opts["address"] = args.address
    if args.workers is not None:
        opts["workers"] = args.workers
    fields = {
        **{k: v for k, v in args.extra.items() if k not in ("train", "backend_options")},
        **{f: getattr(args, d) for d, f in VERIFY_FIELDS.items()},
    }
    fields["seeds"] = tuple(fields["seeds"])
    try:
        cfg = VerifyConfig(train=TrainConfig(**train_fields), backend_options=opts, **fields)
    except TypeError as e:  # the key names were checked against the dataclasses; this is a value's type
        raise SurrogateNASError(f"verify: {e}") from None
    res = verify(args.archs, cfg)
    ok = int((res["status"] == "ok").sum()) if "status" in res else len(res)
    print(f"verified {len(res)} run(s), {ok} ok -> {args.out}")
    if res.attrs.get("kendall_tau") is not None:
        print(
            f"predicted vs measured: Kendall tau {res.attrs['kendall_tau']:.3f}, Spearman {res.attrs['spearman']:.3f}"
        )
    _print_frame(
        res[[c for c in ("arch", "seed", "status", "predicted", "test_acc", "params_m", "train_seconds") if c in res]]
    )
    return 0


def _cmd_experiment_run(args) -> int:
    if args.address and args.workers is not None:
        raise UsageError("experiment run: give --address (a running Ray cluster) or --workers (a local one), not both")

    from .experiment import load_config, run_experiment

    cfg = load_config(args.experiment_config, kind=args.kind)
    command = f"surrogate-nas experiment run {args.kind} --config {args.experiment_config} --out {args.out}"
    stats = run_experiment(
        cfg, args.out, workers=args.workers, address=args.address, progress=args.progress, command=command
    )
    print(
        f"{stats['computed']} cell(s) computed, {stats['cells'] - stats['computed']} already stored, "
        f"{stats['checkpoints_trained']} checkpoint(s) meta-trained in {stats['seconds']:.0f}s -> {args.out}"
    )
    return 0


def _cmd_experiment_report(args) -> int:
    from .experiment import write_report

    write_report(args.dir)
    return 0


# ---------------------------------------------------------------------- input helpers
def _require(args, *dests: str) -> None:
    missing = [d for d in dests if getattr(args, d, None) in (None, "")]
    if missing:
        flags = ", ".join("--" + d.replace("_", "-") for d in missing)
        cmd = " ".join(
            str(getattr(args, d))
            for d in ("command", "data_cmd", "records_cmd", "experiment_cmd", "measure_cmd")
            if getattr(args, d, None)
        )
        raise UsageError(f"{cmd}: {flags} required (on the command line or in --config)")


def _mapping(args, key: str) -> dict:
    value = args.extra.get(key, {})
    if not isinstance(value, dict):
        raise SurrogateNASError(f"config file {args.config}: {key!r} must be a mapping of key: value, got {value!r}")
    return value


def _task_list(text: str | None, flag: str) -> list[str]:
    """A comma-separated task list; empty names and repeats are refused (``,,`` is not 'all tasks')."""
    if text is None:
        return []
    items = [x.strip() for x in text.split(",")]
    if any(not x for x in items):
        raise UsageError(f"{flag} {text!r}: empty task name (give names separated by commas, or leave the option out)")
    dups = sorted({x for x in items if items.count(x) > 1})
    if dups:
        raise UsageError(f"{flag} {text!r}: task {dups[0]!r} is given more than once")
    return items


def _inner_steps(value: str | None):
    if value is None or value == "cv":
        return value
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 0:
        raise UsageError(f"--inner-steps: expected an integer >= 0 or 'cv', got {value!r}")
    return n


def _options(items: list[str]) -> dict:
    import yaml

    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k.strip():
            raise UsageError(f"--option expects key=value, got {item!r}")
        try:
            out[k.strip()] = _load_yaml(v)
        except yaml.YAMLError as e:
            raise UsageError(f"--option {item!r}: the value is not valid YAML ({_yaml_problem(e)})") from None
    return out


def _check_file(path: str, what: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise SurrogateNASError(f"{what} {path} is a directory, not a file")
    if not p.is_file():
        raise SurrogateNASError(f"{what} {path} does not exist")
    return p


def _read_table(path: str, what: str):
    from .benchmarks.readers import read_user_file

    try:
        df = read_user_file(Path(path))
    except SurrogateNASError as e:
        raise SurrogateNASError(f"{what} {e}") from None
    if len(df) == 0:
        raise SurrogateNASError(f"{what} {path}: no records (only a header)")
    return df


def _numbers(col, where: str):
    """A column as floats; booleans, text and missing cells are refused naming the data row (1-based)."""
    import numpy as np
    import pandas as pd

    for i, v in enumerate(col.tolist()):
        if isinstance(v, (bool, np.bool_)):
            raise SurrogateNASError(f"{where}, data row {i + 1}: {bool(v)!r} is a boolean, not a number")
        if v is None or (isinstance(v, float) and np.isnan(v)):
            raise SurrogateNASError(f"{where}, data row {i + 1}: the value is missing")
    vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(vals))
    if len(bad):
        raw = col.iloc[bad[0]]
        raw = raw.item() if isinstance(raw, np.generic) else raw
        what = "is not a number" if np.isnan(vals[bad[0]]) else "is not finite"
        raise SurrogateNASError(f"{where}, data row {bad[0] + 1}: {raw!r} {what}")
    return vals


def _parse_archs(space, texts: list, where: str, unit: str, numbers: list[int] | None = None) -> list:
    out = []
    for i, t in enumerate(texts):
        n = numbers[i] if numbers else i + 1
        if t is None or (isinstance(t, float) and t != t):
            raise SurrogateNASError(f"{where}, {unit} {n}: empty architecture cell")
        if not isinstance(t, str):
            raise SurrogateNASError(f"{where}, {unit} {n}: {t!r} is not an architecture string")
        try:
            out.append(space.parse(t))
        except SurrogateNASError as e:
            raise SurrogateNASError(f"{where}, {unit} {n}: {e}") from None
    return out


def _refuse_repeats(space, archs: list, where: str, metric: str | None = None) -> None:
    """One measurement per architecture string (a string is a network). Isomorphic cells (different strings, one
    canonical key) are accepted; for a function-level ``metric`` a one-line note on stderr says their values are
    treated as repeated measurements of one function."""
    from .predictors.support import isomorphic_note

    seen: dict = {}
    for i, a in enumerate(archs):
        j = seen.setdefault(a, i)
        if j != i:
            raise SurrogateNASError(
                f"{where}: data rows {j + 1} and {i + 1}: architecture {space.format(a)!r} "
                "appears twice; average repeated measurements first"
            )
    note = isomorphic_note(space, archs, where, metric)
    if note:
        print(f"note: {note}", file=sys.stderr)


def _read_arch_list(space, path: str) -> list:
    """One architecture per line (file line numbers in messages); blank lines and # comments skipped."""
    p = _check_file(path, "architecture list")
    data = p.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:
        raise SurrogateNASError(
            f"architecture list {path} is not a text file (expected UTF-8, one architecture per line)"
        )
    lines = [
        (n, ln.strip())
        for n, ln in enumerate(text.splitlines(), start=1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not lines:
        raise SurrogateNASError(f"architecture list {path} has no architectures")
    return _parse_archs(space, [ln for _, ln in lines], f"architecture list {path}", "line", [n for n, _ in lines])


# ---------------------------------------------------------------------- --config files
def _load_yaml(text: str):
    from .io import load_yaml  # lazy: `surrogate-nas --help` imports nothing it does not need

    return load_yaml(text)


def _load_config(path: str) -> dict:
    import yaml

    p = _check_file(path, "config file")
    try:
        d = _load_yaml(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SurrogateNASError(f"config file {path} is not a text file (expected YAML)") from None
    except yaml.YAMLError as e:
        raise SurrogateNASError(f"config file {path} is not valid YAML ({_yaml_problem(e)})") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise SurrogateNASError(f"config file {path} must be a mapping of option: value, got a YAML {type(d).__name__}")
    return d


def _yaml_problem(e) -> str:
    mark = getattr(e, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{getattr(e, 'problem', None) or type(e).__name__}{where}"


def _sections(command: str) -> dict[str, Any]:
    """Config-file sections of a command: {key: dataclass} for keys that hold one dataclass's fields."""
    if command == "pretrain":
        from .meta.maml import MetaConfig
        from .predictors.gnn import ModelConfig

        return {"model": ModelConfig, "meta": MetaConfig}
    if command == "verify":
        from .training import TrainConfig

        return {"train": TrainConfig}
    return {}


def _top_fields(command: str) -> dict[str, str] | None:
    """Config keys (dataclass fields) of commands whose top level is a dataclass: {field: dest or ''}."""

    if command == "search":
        from .search.run import SearchConfig

        dests = {f: d for d, f in SEARCH_FIELDS.items()}
        return {f: dests.get(f, "") for f in SearchConfig.field_names()} | {"threads": "threads"}
    if command == "verify":
        from .training import VerifyConfig

        dests = {f: d for d, f in VERIFY_FIELDS.items()}
        return {f: dests.get(f, "") for f in VerifyConfig.field_names()} | {"archs": "archs"}
    if command == "pretrain":
        return {k: k for k in PRETRAIN_TOP}
    return None


def _apply_config(args, parser: argparse.ArgumentParser, given: set[str]) -> None:
    """Fill ``args`` from ``--config`` for every option the user did not give; other keys -> ``args.extra``."""

    args.extra = {}
    if not getattr(args, "config", None):
        return
    d = _load_config(args.config)
    where = f"config file {args.config}"
    actions = {a.dest: a for a in parser._actions if a.option_strings and a.dest not in ("help", "config")}
    top = _top_fields(args.command)
    sections = _sections(args.command)
    flag_of = {"model": PRETRAIN_MODEL, "meta": PRETRAIN_META, "train": VERIFY_TRAIN}
    for key, value in d.items():
        k = str(key).replace("-", "_")
        if k in sections:
            if not isinstance(value, dict):
                raise SurrogateNASError(f"{where}: {k!r} must be a mapping of {sections[k].__name__} fields")
            names = set(sections[k].field_names())
            dests = {f: dst for dst, f in flag_of[k].items()}
            for sub, v in value.items():
                if sub not in names:
                    raise SurrogateNASError(
                        f"{where}: unknown key '{k}.{sub}'; {sections[k].__name__} fields: {', '.join(sorted(names))}"
                    )
                if sub in dests:
                    _set_from_file(args, actions[dests[sub]], v, given, f"{where}: {k}.{sub}")
                else:
                    args.extra.setdefault(k, {})[sub] = v
            continue
        if top is None:
            known = {dst: dst for dst in actions}
        else:
            known = top
        if k not in known:
            raise SurrogateNASError(
                f"{where}: unknown key {str(key)!r} for `{parser.prog}`; "
                f"known: {', '.join(sorted(set(known) | set(sections)))}"
            )
        dest = known[k]
        if dest:
            _set_from_file(args, actions[dest], value, given, f"{where}: {k}")
        else:
            args.extra[k] = value


def _set_from_file(args, action: argparse.Action, value, given: set[str], where: str) -> None:
    if action.dest in given or value is None:  # the command line wins; null = the default
        return
    if action.dest in ("train_tasks", "val_tasks", "features") and isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise SurrogateNASError(f"{where}: expected a list of names, got {value!r}")
        if not value:  # [] = none given (pretrain.yaml writes val_tasks: [])
            return
        value = ",".join(value)
    if action.nargs == 0:  # a switch
        if not isinstance(value, bool):
            raise SurrogateNASError(f"{where}: expected true or false, got {value!r}")
        setattr(args, action.dest, value if action.const is not False else not value)
        return
    many = action.nargs in ("+", "*") or isinstance(action, argparse._AppendAction)
    items = value if many and isinstance(value, list) else [value]
    out = []
    typ: Any = action.type  # a converter (argparse also allows a registered name; this parser registers none)
    expected = {int: "an integer", float: "a number"}.get(typ, getattr(typ, "__name__", "text"))
    for v in items:
        if isinstance(v, (dict, list)) or (isinstance(v, bool) and typ is not None):
            raise SurrogateNASError(f"{where}: {v!r} is not a valid value (expected {expected})")
        try:
            conv = typ(str(v)) if typ else str(v)
        except (TypeError, ValueError, argparse.ArgumentTypeError):
            raise SurrogateNASError(f"{where}: {v!r} is not a valid value (expected {expected})") from None
        if action.choices is not None and conv not in action.choices:
            raise SurrogateNASError(f"{where}: {conv!r} is not one of {', '.join(map(str, action.choices))}")
        out.append(conv)
    setattr(args, action.dest, out if many else out[0])


# ---------------------------------------------------------------------- parser
class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default (unless it has none)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is argparse.SUPPRESS or "%(default)" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (exit 2 via :func:`main`), not usage + message."""

    def __init__(self, *a, **k):
        k.setdefault("formatter_class", _Formatter)
        super().__init__(*a, **k)

    def error(self, message):
        command = self.prog.removeprefix(PROG).strip()
        raise UsageError(f"{command + ': ' if command else ''}{message} (see `{self.prog} --help`)")


def _int_at_least(lo: int):
    def conv(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"expected an integer >= {lo}, got {text!r}")
        return v

    conv.__name__ = f"an integer >= {lo}"
    return conv


_POSITIVE, _NON_NEGATIVE = _int_at_least(1), _int_at_least(0)


def _config_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--config",
        metavar="FILE.yaml",
        help=f"read options from a YAML file ({what}); unknown keys are refused, "
        "options on the command line override the file",
    )


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = sub.add_parser(
        "data", help="benchmark files: list, fetch, import", description="Benchmark files: list, fetch, import."
    )
    dsub = data.add_subparsers(dest="data_cmd", required=True, metavar="ACTION")
    d = dsub.add_parser(
        "list",
        help="what benchmark records are available, with which tasks and metrics",
        description="What benchmark records are available, with which tasks and metrics.",
    )
    d.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="all task and metric names, locations, licenses and full messages (wider than 100 columns)",
    )
    _config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_list)
    d = dsub.add_parser(
        "fetch",
        help="download a public benchmark file into the data dir (sha256-checked)",
        description="Download a public benchmark file into the data dir; its sha256 is checked.",
    )
    d.add_argument("name", help="data set to fetch (see `data list`: nb201, nb201-hp12, ...)")
    d.add_argument("--force", action="store_true", help="download again even if a valid file is cached")
    d.add_argument(
        "--url", help="alternative URL, e.g. a mirror (https://, http:// or file://); the sha256 is still enforced"
    )
    d.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="offline: install from a local copy (plain, or the repo's data/...xz), sha256-checked; every data "
        "set, the shipped ones included (what an installed wheel needs: it has no data/ folder)",
    )
    _config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_fetch)
    d = dsub.add_parser(
        "features",
        help="compute free architecture features (params, FLOPs, zero-cost proxies)",
        description="Compute params, FLOPs and the zero-cost proxies synflow, snip, grad_norm, "
        "jacob_cov and NASWOT at initialisation, once per canonical class, as Ray tasks. "
        "Finished classes are kept in a resumable store: a killed run resumes. The "
        "table the toolkit ships (data/nb201/free_features.csv.xz) was written by "
        "`data features --space nb201 --workers 1`.",
    )
    d.add_argument("--space", help="search space (nb201); required")
    d.add_argument("--out", help="xz-compressed CSV to write (default: next to the store, in the user cache)")
    d.add_argument("--store", help="resumable SQLite store (default: per configuration, in the user cache)")
    d.add_argument(
        "--dataset",
        default="digits",
        help="input batch: digits (scikit-learn's, built in) or an .npz of 32x32x3 images x and labels y, "
        "e.g. CIFAR-10",
    )
    d.add_argument("--data-root", help="folder of the --dataset .npz")
    d.add_argument("--batch-size", type=_POSITIVE, default=16, help="images in the fixed input batch")
    d.add_argument("--seed", type=int, default=0, help="seed of the batch and of every network's weights")
    d.add_argument("--address", help="an existing Ray cluster (auto, ray://host:port); default: a local instance")
    d.add_argument("--workers", type=_POSITIVE, help="CPUs of the local Ray instance (default: all)")
    d.add_argument("--limit", type=_POSITIVE, help="only the first N classes (a trial run)")
    d.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    _config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_features)
    d = dsub.add_parser(
        "import",
        help="validate and store your own measurements (CSV/parquet) as a benchmark",
        description="Validate your own measurements (CSV or parquet; long arch,task,metric,value "
        "or wide arch,<task>... layout) and store them as a benchmark. Messages "
        "count data rows from 1, the header not counted.",
    )
    d.add_argument("file", help="CSV or parquet file of measurements")
    d.add_argument("--space", help="search space of the arch column (nb201, nas-bench-graph, ...); required")
    d.add_argument("--name", help="name to store it under (default: the file's stem)")
    d.add_argument("--arch-column", default="arch", help="column holding the architecture strings")
    d.add_argument("--metric", help="metric name of a wide table's values (e.g. latency_ms)")
    d.add_argument("--task", help="task name for a wide table's single value column")
    d.add_argument(
        "--lower-is-better",
        action="store_true",
        help="the metric is latency-like (smaller is better); recorded with the table",
    )
    _config_option(d, "keys: the options by name")
    d.set_defaults(func=_cmd_data_import)

    rec = sub.add_parser("records", help="inspect benchmark records", description="Inspect benchmark records.")
    rsub = rec.add_subparsers(dest="records_cmd", required=True, metavar="ACTION")
    r = rsub.add_parser(
        "summary",
        help="per task/metric: archs, records, min/mean/max",
        description="Per task and metric: architectures, records, min/mean/max.",
    )
    r.add_argument("benchmark", nargs="?", default="nas-bench-graph", help="benchmark name (see `data list`)")
    _config_option(r, "keys: the options by name")
    r.set_defaults(func=_cmd_records_summary)
    r = rsub.add_parser(
        "top",
        help="best architectures of one task/metric",
        description="The best architectures of one task and metric.",
    )
    r.add_argument("benchmark", help="benchmark name (see `data list`)")
    r.add_argument("--task", help="task of the benchmark; required")
    r.add_argument("--metric", help="metric of the task (default: the benchmark's, or the table's only metric)")
    r.add_argument("-n", type=_POSITIVE, default=10, help="how many to show")
    r.add_argument("--ascending", action="store_true", help="smallest first (latency, params)")
    _config_option(r, "keys: the options by name")
    r.set_defaults(func=_cmd_records_top)

    r = sub.add_parser(
        "pretrain",
        help="meta-train a GNN predictor across the tasks of a benchmark",
        description="Meta-train a GNN predictor across the tasks of a benchmark and write a "
        "checkpoint directory (model.pt + config.json + pretrain.yaml, written as one). "
        "The default is a deep ensemble: --members meta seeds (--seed, --seed + 1, ...) "
        "trained one after another, written as one directory of member-0/ ... (each a "
        "checkpoint) + ensemble.json + pretrain.yaml; `predict` and the 'meta' predictor "
        "read either.",
    )
    _config_option(
        r,
        "top-level keys benchmark, target, metric, train_tasks, val_tasks, lower_is_better, members, out, threads, "
        "progress; sections model: (ModelConfig) and meta: (MetaConfig); a checkpoint's "
        "pretrain.yaml is such a file",
    )
    r.add_argument("--benchmark", default="nb201", help="benchmark whose tasks are the meta-training tasks")
    r.add_argument(
        "--target",
        help="the task this checkpoint will predict: left out of the default training tasks, "
        "refused among --train-tasks/--val-tasks, and recorded in the checkpoint",
    )
    r.add_argument(
        "--train-tasks",
        help="comma-separated training tasks (default: every task not in --val-tasks "
        "and not --target); a target task you will predict must not be among them",
    )
    r.add_argument(
        "--val-tasks",
        help="comma-separated held-out tasks for early stopping "
        "(default: a held-out training task or held-out architectures, --meta-val)",
    )
    r.add_argument("--metric", help="target metric (default: test_acc for nb201, valid_perf for nas-bench-graph)")
    r.add_argument("--lower-is-better", action="store_true", help="the metric is latency-like (smaller is better)")
    r.add_argument(
        "--out", help="checkpoint directory: new, empty, or an earlier checkpoint or ensemble (replaced); required"
    )
    r.add_argument(
        "--members",
        type=_POSITIVE,
        default=3,
        help="ensemble members: meta seeds --seed, --seed + 1, ... (1: a single checkpoint)",
    )
    r.add_argument(
        "--workers",
        type=_POSITIVE,
        default=1,
        help="members meta-trained at once, each in a process of its own (results are the same as with 1)",
    )
    r.add_argument(
        "--algorithm",
        default=PRETRAIN_DEFAULTS["algorithm"],
        choices=ALGORITHMS,
        help="meta-learning algorithm (dkt: deep-kernel GP head on the GNN embedding; multitask: the "
        "non-meta ablation)",
    )
    r.add_argument(
        "--kernel", default="rbf", choices=KERNELS, help="kernel of the GP head on the GNN embedding (dkt or --gp-head)"
    )
    r.add_argument(
        "--gp-head",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="maml/reptile/multitask: then meta-learn a GP head on the adapted residuals",
    )
    r.add_argument(
        "--target-scale",
        default=PRETRAIN_DEFAULTS["target_scale"],
        choices=TARGET_SCALES,
        help="support targets -> the network's scale: zscore, or robust (median/IQR, clipped)",
    )
    r.add_argument(
        "--top-weight",
        type=float,
        default=0.0,
        help="share (0..1) of the query ranking loss weighted towards the top architectures",
    )
    r.add_argument(
        "--meta-val",
        default="task",
        choices=META_VALS,
        help="early stopping without --val-tasks: task (hold one training task out, with >= 3 tasks) "
        "or archs (hold one set of architectures out of every task)",
    )
    r.add_argument(
        "--first-order",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="first-order MAML (no second derivatives)",
    )
    r.add_argument(
        "--meta-sgd",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="learn per-parameter inner learning rates",
    )
    r.add_argument("--inner-steps", type=int, default=5, help="inner-loop SGD steps on the support set")
    r.add_argument("--inner-lr", type=float, default=0.05, help="inner-loop learning rate")
    r.add_argument("--outer-lr", type=float, default=1e-3, help="outer-loop (Adam) learning rate")
    r.add_argument("--iterations", type=int, default=400, help="meta-training iterations")
    r.add_argument("--meta-batch", type=int, default=4, help="tasks per meta-batch")
    r.add_argument("--conv", default="gin", choices=["gin", "gat", "gcn"], help="graph convolution")
    r.add_argument("--hidden", type=int, default=32, help="hidden width of the GNN (a multiple of 4 for gat)")
    r.add_argument("--layers", type=int, default=3, help="graph convolution layers")
    r.add_argument(
        "--sources",
        dest="use_sources",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read the other tasks' values as source features (--no-sources: graph only)",
    )
    r.add_argument(
        "--features",
        help="free features every task reads of its own architectures: comma-separated "
        "(nb201: params, flops, synflow, snip, grad_norm, jacob_cov, naswot; "
        "nas-bench-graph: params, latency) or 'all'; adaptation reads the target's",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of initial weights and episode sampling")
    r.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
    r.add_argument(
        "--threads", type=_POSITIVE, default=1, help="torch CPU threads (1 is fastest for these small graphs)"
    )
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    r.set_defaults(func=_cmd_pretrain)

    r = sub.add_parser(
        "predict",
        help="adapt a checkpoint to a new task from measured archs and predict the rest",
        description="Adapt a checkpoint to a new task from measured architectures and predict the "
        "rest. Messages count the support file's data rows from 1 (header not counted) "
        "and the --archs file's lines from 1.",
    )
    _config_option(r, "keys: the options by name, e.g. model, support, task, out")
    r.add_argument("--model", help="checkpoint or ensemble directory from `pretrain`; required")
    r.add_argument("--support", help="CSV/parquet of measured architectures (columns arch, value); required")
    r.add_argument(
        "--task",
        help="the task the support values come from; refused if the checkpoint was "
        "trained on it (without it, a support that looks like a source task's own "
        "values is refused)",
    )
    r.add_argument("--arch-column", default="arch", help="support column with the architecture strings")
    r.add_argument("--value-column", default="value", help="support column with the measured values")
    r.add_argument("--archs", help="text file, one architecture string per line (# comments allowed)")
    r.add_argument("--all", action="store_true", help="predict every architecture of the space")
    r.add_argument("--out", help="predictions CSV (rank, arch, key, predicted, std, measured; best first); required")
    r.add_argument(
        "--inner-steps",
        help="inner steps: an integer, or 'cv' to choose by cross-validation (default: the meta-trained count)",
    )
    r.add_argument(
        "--members",
        type=_NON_NEGATIVE,
        default=5,
        help="bootstrap members for the std column of a GNN without a GP head (0: no std; a GP head's "
        "std is its posterior's, an ensemble's adds its members' spread)",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the bootstrap members")
    r.add_argument("--show", type=_NON_NEGATIVE, default=10, help="rows of the result to print")
    r.set_defaults(func=_cmd_predict)

    r = sub.add_parser(
        "search",
        help="search a task with a budget of evaluations (journaled, resumable)",
        description="Search a task within a budget of evaluations. Every evaluation is "
        "journaled in --out; rerun the same command to resume, or with a larger "
        "--budget to extend a finished search.",
    )
    _config_option(r, "SearchConfig fields, e.g. a run's config.yaml, plus threads")
    r.add_argument("--space", default="nb201", help="search space")
    r.add_argument("--task", help="target task (dataset / device) of the benchmark; required")
    r.add_argument(
        "--strategy",
        default="guided",
        help="random, evolution, local, source-rank, guided (Bayesian optimisation over the candidate set; "
        "'guided-evolution' is its old name) or hierarchical (two-level: probe the best skeleton groups, commit, "
        "search inside them)",
    )
    r.add_argument("--model", help="checkpoint directory from `pretrain` (predictor meta)")
    r.add_argument(
        "--predictor",
        default="meta",
        help="predictor of the guided strategies: a registry name (meta, rf, gbm, scratch-gnn, ...) or scratch / tree",
    )
    r.add_argument("--budget", type=int, default=20, help="evaluations of the target, support included")
    r.add_argument(
        "--evaluator",
        default="table",
        choices=["table", "train"],
        help="table: look values up in the benchmark (simulation); train: real training",
    )
    r.add_argument("--benchmark", help="benchmark for the table evaluator (default per space)")
    r.add_argument(
        "--metric",
        help="metric to maximise, NAME or NAME@FIDELITY (default per benchmark: nb201 "
        "valid_acc@12, the 12-epoch validation accuracy; nas-bench-graph valid_perf)",
    )
    r.add_argument(
        "--test-metric",
        help="metric reported for the best architecture (default per benchmark: nb201 "
        "test_acc@200, nas-bench-graph test_perf; else --metric)",
    )
    r.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="q: architectures per round, chosen jointly by the acquisition (q-EI, q-UCB, Thompson) and "
        "evaluated together (in parallel by --evaluator train on a Ray backend)",
    )
    r.add_argument("--constraint", help="e.g. latency<=0.005 (looked up in the benchmark)")
    r.add_argument(
        "--constraint-mode",
        default="filter",
        choices=["filter", "penalty"],
        help="filter: never evaluate infeasible archs; penalty: score them down",
    )
    r.add_argument("--data-root", help="datasets for --evaluator train")
    r.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="strategy option (repeatable; VALUE is YAML), e.g. acquisition=ei (mean, ucb, ei, thompson), "
        "beta=2, probe_groups=8, commit=3",
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the search")
    r.add_argument("--threads", type=_POSITIVE, default=1, help="torch CPU threads")
    r.add_argument("--out", help="run directory (journal, trajectory, report); rerun to resume; required")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    r.set_defaults(func=_cmd_search)

    r = sub.add_parser(
        "verify",
        help="train candidates for real and record the measurements",
        description="Train candidates for real (NB-201 network and recipe) and record the measurements.",
    )
    _config_option(r, "VerifyConfig fields with a train: section (TrainConfig fields), plus archs")
    r.add_argument("--space", default="nb201", help="search space of the candidates")
    r.add_argument("--archs", help="CSV with an arch column (and optionally predicted); required")
    r.add_argument("--dataset", default="cifar10", help="cifar10, cifar100, ImageNet16-120, or digits (built in)")
    r.add_argument("--data-root", help="directory with the dataset files")
    r.add_argument(
        "--epochs",
        type=int,
        help="training epochs (default: the dataset's recipe: 200 for the NB-201 datasets, 10 for digits)",
    )
    r.add_argument(
        "--batch-size", type=int, help="training batch size (default: the dataset's recipe: 256, 64 for digits)"
    )
    r.add_argument("--lr", type=float, default=0.1, help="initial learning rate (cosine schedule)")
    r.add_argument(
        "--C", type=int, help="stem width of the NB-201 skeleton (default: the dataset's recipe: 16, 8 for digits)"
    )
    r.add_argument(
        "--N", type=int, help="cells per stage of the NB-201 skeleton (default: the dataset's recipe: 5, 1 for digits)"
    )
    r.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (one run per seed)")
    r.add_argument("--device", default="auto", help="auto (cuda when available), cpu, cuda, cuda:1")
    r.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="training precision")
    r.add_argument(
        "--channels-last", action=argparse.BooleanOptionalAction, default=False, help="channels-last memory format"
    )
    r.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False, help="torch.compile the network")
    r.add_argument("--backend", default="local", choices=["local", "ray"], help="where the runs execute")
    r.add_argument("--address", help="Ray cluster address (e.g. auto)")
    r.add_argument("--workers", type=int, help="local process-pool workers")
    r.add_argument("--top-k", type=int, help="verify only the k best candidates by the file's 'rank' column (1 = best)")
    r.add_argument("--append-to", help="BenchmarkTable parquet to append the new records to")
    r.add_argument("--out", default="runs/verify", help="output directory (results.csv, summary.md)")
    r.set_defaults(func=_cmd_verify)

    mea = sub.add_parser(
        "measure",
        help="measure architectures on this machine (latency)",
        description="Measure architectures on this machine.",
    )
    msub = mea.add_subparsers(dest="measure_cmd", required=True, metavar="WHAT")
    r = msub.add_parser(
        "latency",
        help="inference latency of NB-201 networks under named settings (wide CSV)",
        description="Time the NB-201 network (C=16, N=5, 10 classes, 3x32x32 input, eval mode, "
        "inference_mode) of a seeded sample of canonical cells under each setting "
        "t<threads>-b<batch>-<fp32|bf16>[-cl] (-cl: channels_last; bf16 under CPU "
        "autocast): one warm-up, then the median of --repeats forwards, in ms per batch. "
        "Finished (cell, setting) pairs are kept in a resumable store; the table "
        "arch,<setting>,... is written atomically at the end and imports with "
        "`data import FILE --space nb201 --metric latency_ms --lower-is-better`.",
    )
    r.add_argument("--space", default="nb201", help="search space (nb201)")
    r.add_argument(
        "--sample", type=_POSITIVE, default=1000, help="how many distinct canonical cells to draw (at most 6466)"
    )
    r.add_argument("--seed", type=int, default=0, help="seed of the cell sample, the network weights and the input")
    r.add_argument(
        "--settings",
        help="comma-separated settings t<threads>-b<batch>-<fp32|bf16>[-cl] (default: the shipped table's "
        "t1-b1-fp32,t1-b1-bf16,t1-b1-fp32-cl,t1-b8-fp32,t1-b32-fp32,t1-b32-bf16,t1-b32-fp32-cl)",
    )
    r.add_argument(
        "--repeats",
        type=_POSITIVE,
        help="timed forwards per cell and setting, their median is kept (default: 5 at batch <= 8, else 3)",
    )
    r.add_argument("--warmup", type=_NON_NEGATIVE, default=1, help="untimed forwards before the timed ones")
    r.add_argument("--out", help="CSV to write (arch,<setting>,...; ms per batch); required")
    r.add_argument("--store", help="resumable SQLite store (default: per configuration, in the user cache)")
    r.add_argument("--limit", type=_POSITIVE, help="only the first N cells of the sample (a trial run)")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    _config_option(r, "keys: the options by name")
    r.set_defaults(func=_cmd_measure_latency)

    exp = sub.add_parser(
        "experiment",
        help="run an experiment grid as parallel tasks (resumable), or report it",
        description="Run the predictor-quality or search-efficiency grid as Ray tasks (a local "
        "instance, or a cluster with --address), every finished cell committed to "
        "DIR/experiment.sqlite; rerun to resume. Or write the report of a run directory.",
    )
    esub = exp.add_subparsers(dest="experiment_cmd", required=True, metavar="ACTION")
    r = esub.add_parser(
        "run",
        help="run (or resume) a grid and write its report into --out",
        description="Run (or resume) an experiment grid and write its report into --out.",
    )
    r.add_argument("kind", choices=["predictor-quality", "search-efficiency"], help="which experiment")
    r.add_argument(
        "--config",
        dest="experiment_config",
        metavar="FILE.yaml",
        required=True,
        help="the experiment config (experiments/configs/*.yaml); required",
    )
    r.add_argument("--out", required=True, help="run directory (config, store, checkpoints, report); required")
    r.add_argument("--address", help="a running Ray cluster (ray://HOST:PORT or auto) instead of a local instance")
    r.add_argument(
        "--workers",
        type=_NON_NEGATIVE,
        help="CPUs of the local Ray instance (default: all cores); 0 runs in this process without Ray",
    )
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True, help="show a progress bar")
    r.set_defaults(func=_cmd_experiment_run)
    r = esub.add_parser(
        "report",
        help="merge a run directory's store into its markdown/CSV/PNG report",
        description="Merge a run directory's result store into its markdown/CSV/PNG report.",
    )
    r.add_argument("dir", help="run directory of `experiment run`")
    r.set_defaults(func=_cmd_experiment_report)
    return p


def _subparser(parser: argparse.ArgumentParser, args) -> argparse.ArgumentParser:
    """The (sub)parser that parsed ``args``' command."""
    p = parser
    while True:
        sp = next((a for a in p._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sp is None or getattr(args, sp.dest, None) is None:
            return p
        p = sp.choices[getattr(args, sp.dest)]


def _given(argv: list[str]) -> set[str]:
    """The dests the user gave on the command line (a second parse where nothing has a default)."""
    p = build_parser()
    stack = [p]
    while stack:
        parser = stack.pop()
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                stack.extend(a.choices.values())
            elif a.dest != "help":
                a.default = argparse.SUPPRESS
    return set(vars(p.parse_args(argv)))


# ---------------------------------------------------------------------- output
def _print_frame(df) -> None:
    import pandas as pd

    with pd.option_context(
        "display.max_rows", 200, "display.max_columns", 50, "display.width", 200, "display.max_colwidth", 60
    ):
        print(df.to_string(index=False))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(df) -> str:
    from tabulate import tabulate

    return tabulate(df.values.tolist(), headers=list(df.columns), tablefmt="plain", disable_numparse=True)


def _fit(df, width: int) -> str:
    """A plain table with the widest text cells shortened (…) until every line fits ``width``."""
    df = df.astype(str)
    while True:
        text = _table(df)
        over = max(map(len, text.splitlines())) - width
        if over <= 0:
            return text
        col = max(df.columns, key=lambda c: df[c].str.len().max())
        longest = int(df[col].str.len().max())
        if longest <= 8:
            return text
        keep = max(8, longest - over)
        df[col] = df[col].map(lambda s, keep=keep: _clip(s, keep))


def _one_line(e: BaseException | str) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return " ".join(lines) or type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        given = _given(argv)
        _apply_config(args, _subparser(parser, args), given)
        return int(args.func(args) or 0)
    except SurrogateNASError as e:
        print(f"{PROG}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:  # a path the checks could not foresee (disk full, a race): still one line
        print(
            f"{PROG}: error: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or _one_line(e)}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
