"""The ``surrogate-nas`` command line: a thin layer that turns arguments into library calls."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import pandas as pd

from .errors import SurrogateNASError


# ---------------------------------------------------------------------- data
def _cmd_data_list(args) -> int:
    from .benchmarks import readers

    rows = []
    for src in readers.SOURCES.values():
        row = {"name": src.name, "space": src.space, "location": src.location(), "license": src.license}
        if src.available():
            t = readers.load_benchmark(src.name)
            row.update(status="available", archs=t.frame["arch"].nunique(), tasks=",".join(t.tasks), metrics=",".join(t.metrics()))
        else:
            row.update(status=f"missing: run `surrogate-nas data fetch {src.name}`", archs=0, tasks="", metrics="")
        rows.append(row)
    for name in readers.imported_tables():
        t = readers.load_benchmark(name)
        rows.append({"name": name, "space": t.space.name, "location": str(readers._imported_dir() / f"{name}.parquet"),
                     "license": "user data", "status": "imported", "archs": t.frame["arch"].nunique(),
                     "tasks": ",".join(t.tasks), "metrics": ",".join(t.metrics())})
    from .benchmarks.cache import ENV_VAR, data_dir

    print(f"data dir: {data_dir()}  (override with ${ENV_VAR})")
    _print_frame(pd.DataFrame(rows)[["name", "space", "status", "archs", "tasks", "metrics", "location", "license"]])
    return 0


def _cmd_data_fetch(args) -> int:
    from .benchmarks.cache import fetch

    path = fetch(args.name, force=args.force, url=args.url)
    print(f"{args.name}: {path} (sha256 verified)")
    return 0


def _cmd_data_import(args) -> int:
    from .benchmarks import import_table

    name, dest, table = import_table(
        args.file, args.space, name=args.name, arch_column=args.arch_column, metric=args.metric, task=args.task
    )
    print(f"imported {len(table)} records of {table.frame['arch'].nunique()} architectures as {name!r} -> {dest}")
    _print_frame(table.summary())
    return 0


# ---------------------------------------------------------------------- records
def _cmd_records_summary(args) -> int:
    from .benchmarks import load_benchmark

    table = load_benchmark(args.benchmark)
    print(f"{args.benchmark}: space {table.space.name}, {len(table)} records, "
          f"{table.frame['arch'].nunique()} architectures, source {table.source}")
    _print_frame(table.summary())
    return 0


def _cmd_records_top(args) -> int:
    from .benchmarks import load_benchmark

    table = load_benchmark(args.benchmark)
    s = table.series(args.task, args.metric).sort_values(ascending=args.ascending)
    _print_frame(s.head(args.n).rename(args.metric).reset_index())
    return 0



# ---------------------------------------------------------------------- pretrain / predict
DEFAULT_METRIC = {"nb201": "test_acc", "nas-bench-graph": "valid_perf", "nas-bench-graph-proteins": "valid_perf"}


def _cmd_pretrain(args) -> int:
    import time

    import torch
    import yaml

    from .benchmarks import load_benchmark
    from .io import atomic_write_text
    from .meta.checkpoint import save_checkpoint
    from .meta.maml import MetaConfig
    from .meta.pretrain import pretrain
    from .predictors.gnn import ModelConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    table = load_benchmark(args.benchmark)
    metric = args.metric or DEFAULT_METRIC.get(args.benchmark)
    if metric is None:
        raise SurrogateNASError(f"--metric is required for benchmark {args.benchmark!r}; metrics: {', '.join(table.metrics())}")
    tasks = _split(args.train_tasks) or table.tasks
    model_cfg = ModelConfig(conv=args.conv, hidden=args.hidden, layers=args.layers, use_sources=not args.no_sources)
    meta_cfg = MetaConfig(algorithm=args.algorithm, first_order=args.first_order, meta_sgd=args.meta_sgd,
                          inner_steps=args.inner_steps, inner_lr=args.inner_lr, outer_lr=args.outer_lr,
                          iterations=args.iterations, meta_batch=args.meta_batch, seed=args.seed, device=args.device)
    t0 = time.perf_counter()
    ckpt = pretrain(table, tasks, metric, model_cfg, meta_cfg, val_tasks=_split(args.val_tasks),
                    benchmark_name=args.benchmark, higher_is_better=not args.lower_is_better, progress=not args.no_progress)
    out = save_checkpoint(ckpt, args.out)
    atomic_write_text(out / "pretrain.yaml", yaml.safe_dump({"benchmark": args.benchmark, "metric": metric,
                      "train_tasks": tasks, "val_tasks": _split(args.val_tasks), "model": model_cfg.to_dict(),
                      "meta": meta_cfg.to_dict()}, sort_keys=False))
    print(f"meta-trained on {', '.join(tasks)} ({metric}) in {time.perf_counter() - t0:.1f}s; "
          f"meta-validation Kendall tau {ckpt.info['best_val_tau']:.3f}; checkpoint -> {out}")
    return 0


def _cmd_predict(args) -> int:
    import numpy as np

    from .io import atomic_write_text
    from .meta.adapt import adapt
    from .meta.checkpoint import load_checkpoint

    ckpt = load_checkpoint(args.model)
    space = ckpt.space
    support = _read_table(args.support, "support")
    if args.value_column not in support.columns or args.arch_column not in support.columns:
        raise SurrogateNASError(f"{args.support}: needs columns {args.arch_column!r} and {args.value_column!r}; "
                                f"has {', '.join(map(str, support.columns))}")
    steps = args.inner_steps if args.inner_steps in (None, "cv") else _int(args.inner_steps, "--inner-steps")
    pred = adapt(ckpt, (support[args.arch_column].tolist(), support[args.value_column].to_numpy(dtype=float)),
                 inner_steps=steps, n_members=args.members, seed=args.seed)
    if args.all:
        archs = space.enumerate()
    elif args.archs:
        archs = [space.parse(line) for line in _read_lines(args.archs)]
    else:
        raise SurrogateNASError("say which architectures to predict: --archs FILE or --all")
    if args.members > 0:
        mean, std = pred.predict(archs, return_std=True)
    else:
        mean, std = pred.predict(archs), np.full(len(archs), np.nan)
    measured = {a: v for a, v in zip(pred.support_[0], support[args.value_column].to_numpy(dtype=float))}
    out = pd.DataFrame({"arch": [space.format(a) for a in archs], "key": [space.canonical(a) for a in archs],
                        "predicted": mean, "std": std,
                        "measured": [measured.get(a, np.nan) for a in archs]})
    out = out.sort_values("predicted", ascending=False, kind="stable")
    atomic_write_text(args.out, out.to_csv(index=False))
    print(f"adapted on {len(measured)} measured architectures ({pred.steps_} inner steps); "
          f"predicted {len(out)} -> {args.out}")
    _print_frame(out.head(args.show))
    return 0


def _cmd_search(args) -> int:
    import torch

    from .search.run import SearchConfig, run_search

    torch.set_num_threads(args.threads)
    options = {}
    for item in args.option or []:
        k, sep, v = item.partition("=")
        if not sep:
            raise SurrogateNASError(f"--option expects key=value, got {item!r}")
        import yaml

        options[k] = yaml.safe_load(v)
    cfg = SearchConfig(space=args.space, task=args.task, strategy=args.strategy, budget=args.budget,
                       evaluator=args.evaluator, seed=args.seed, out=args.out, model=args.model,
                       predictor=args.predictor, benchmark=args.benchmark, metric=args.metric,
                       batch_size=args.batch_size, options=options, constraint=args.constraint,
                       constraint_mode=args.constraint_mode, data_root=args.data_root,
                       progress=not args.no_progress)
    res = run_search(cfg)
    print(f"{res.evaluations} evaluations ({res.replayed} resumed from the journal) in {res.seconds:.1f}s")
    print(f"best: {res.best_arch}  value {res.best_value:.4f}  test {res.best_test:.4f}")
    if res.scored_per_second:
        print(f"predictor-scored candidates per second: {res.scored_per_second:,.0f}")
    print(f"results -> {res.out}")
    return 0


def _cmd_verify(args) -> int:
    from .training import TrainConfig, VerifyConfig, verify

    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seeds[0], C=args.C, N=args.N,
                        device=args.device, precision=args.precision, channels_last=args.channels_last,
                        compile=args.compile)
    opts = {}
    if args.address:
        opts["address"] = args.address
    if args.workers:
        opts["workers"] = args.workers
    cfg = VerifyConfig(dataset=args.dataset, data_root=args.data_root, space=args.space, train=train,
                       seeds=tuple(args.seeds), backend=args.backend, backend_options=opts, out_dir=args.out,
                       top_k=args.top_k, append_to=args.append_to)
    res = verify(args.archs, cfg)
    ok = int((res["status"] == "ok").sum()) if "status" in res else len(res)
    print(f"verified {len(res)} run(s), {ok} ok -> {args.out}")
    if res.attrs.get("kendall_tau") is not None:
        print(f"predicted vs measured: Kendall tau {res.attrs['kendall_tau']:.3f}, Spearman {res.attrs['spearman']:.3f}")
    _print_frame(res[[c for c in ("arch", "seed", "status", "predicted", "test_acc", "params_m", "train_seconds") if c in res]])
    return 0


def _int(s: str, what: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise SurrogateNASError(f"{what}: expected an integer or 'cv', got {s!r}") from None


def _split(s: str | None) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()] if s else []


def _read_table(path: str, what: str) -> pd.DataFrame:
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise SurrogateNASError(f"{what} file {path} does not exist")
    try:
        return pd.read_parquet(p) if p.suffix in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as e:  # noqa: BLE001 - any parser failure becomes one clear message
        raise SurrogateNASError(f"{what} file {path}: cannot read ({type(e).__name__}: {e})") from None


def _read_lines(path: str) -> list[str]:
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise SurrogateNASError(f"architecture list {path} does not exist")
    return [ln.strip() for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="surrogate-nas", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="benchmark files: list, fetch, import").add_subparsers(dest="data_cmd", required=True)
    d = data.add_parser("list", help="what benchmark records are available, where, with which tasks/metrics")
    d.set_defaults(func=_cmd_data_list)
    d = data.add_parser("fetch", help="download a public benchmark file into the data dir (sha256-checked)")
    d.add_argument("name", help="data set to fetch (nb201)")
    d.add_argument("--force", action="store_true", help="download again even if a valid file is cached")
    d.add_argument("--url", help="alternative URL (mirror); the sha256 is still enforced")
    d.set_defaults(func=_cmd_data_fetch)
    d = data.add_parser("import", help="validate and store your own measurements (CSV/parquet) as a benchmark")
    d.add_argument("file")
    d.add_argument("--space", required=True, help="search space of the arch column (nb201, nas-bench-graph, ...)")
    d.add_argument("--name", help="name to store it under (default: the file's stem)")
    d.add_argument("--arch-column", default="arch")
    d.add_argument("--metric", help="metric name of a wide table's values (e.g. latency_ms)")
    d.add_argument("--task", help="task name for a wide table's single value column")
    d.set_defaults(func=_cmd_data_import)

    rec = sub.add_parser("records", help="inspect benchmark records").add_subparsers(dest="records_cmd", required=True)
    r = rec.add_parser("summary", help="per task/metric: archs, records, min/mean/max")
    r.add_argument("benchmark", nargs="?", default="nas-bench-graph")
    r.set_defaults(func=_cmd_records_summary)
    r = rec.add_parser("top", help="best architectures of one task/metric")
    r.add_argument("benchmark")
    r.add_argument("--task", required=True)
    r.add_argument("--metric", required=True)
    r.add_argument("-n", type=int, default=10)
    r.add_argument("--ascending", action="store_true", help="smallest first (latency, params)")
    r.set_defaults(func=_cmd_records_top)

    r = sub.add_parser("pretrain", help="meta-train a GNN predictor across the tasks of a benchmark")
    r.add_argument("--benchmark", default="nb201")
    r.add_argument("--train-tasks", help="comma-separated tasks (default: all tasks of the benchmark)")
    r.add_argument("--val-tasks", help="comma-separated held-out tasks for early stopping (default: held-out archs)")
    r.add_argument("--metric", help="target metric (default: test_acc for nb201, valid_perf for nas-bench-graph)")
    r.add_argument("--lower-is-better", action="store_true", help="for latency-like source metrics")
    r.add_argument("--out", required=True, help="checkpoint directory")
    r.add_argument("--algorithm", default="maml", choices=["maml", "reptile", "multitask"])
    r.add_argument("--first-order", action="store_true")
    r.add_argument("--meta-sgd", action="store_true", help="learn per-parameter inner learning rates")
    r.add_argument("--inner-steps", type=int, default=5)
    r.add_argument("--inner-lr", type=float, default=0.05)
    r.add_argument("--outer-lr", type=float, default=1e-3)
    r.add_argument("--iterations", type=int, default=400)
    r.add_argument("--meta-batch", type=int, default=4)
    r.add_argument("--conv", default="gin", choices=["gin", "gat", "gcn"])
    r.add_argument("--hidden", type=int, default=32)
    r.add_argument("--layers", type=int, default=3)
    r.add_argument("--no-sources", action="store_true", help="graph only: do not use the other tasks' values")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", default="cpu")
    r.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest for these small graphs)")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=_cmd_pretrain)

    r = sub.add_parser("predict", help="adapt a checkpoint to a new task from measured archs and predict the rest")
    r.add_argument("--model", required=True, help="checkpoint directory from `pretrain`")
    r.add_argument("--support", required=True, help="CSV/parquet of measured architectures (arch, value)")
    r.add_argument("--arch-column", default="arch")
    r.add_argument("--value-column", default="value")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--archs", help="text file, one architecture string per line")
    g.add_argument("--all", action="store_true", help="every architecture of the space")
    r.add_argument("--out", required=True, help="predictions CSV (arch, key, predicted, std, measured)")
    r.add_argument("--inner-steps", default=None, help="inner steps (default: the meta-trained count) or 'cv'")
    r.add_argument("--members", type=int, default=5, help="bootstrap members for the std column (0: no std)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--show", type=int, default=10)
    r.set_defaults(func=_cmd_predict)

    r = sub.add_parser("search", help="search a task with a budget of evaluations (journaled, resumable)")
    r.add_argument("--space", default="nb201")
    r.add_argument("--task", required=True, help="target task (dataset / device) of the benchmark")
    r.add_argument("--strategy", default="guided-evolution",
                   help="random, evolution, local, source-rank, guided-evolution, hierarchical")
    r.add_argument("--model", help="checkpoint directory from `pretrain` (guided strategies)")
    r.add_argument("--predictor", default="meta", choices=["meta", "scratch", "tree"])
    r.add_argument("--budget", type=int, default=20, help="evaluations of the target, support included")
    r.add_argument("--evaluator", default="table", choices=["table", "train"])
    r.add_argument("--benchmark", help="benchmark for the table evaluator (default per space)")
    r.add_argument("--metric", help="metric to maximise (default per space)")
    r.add_argument("--batch-size", type=int, default=1, help="evaluations per suggest() call")
    r.add_argument("--constraint", help="e.g. latency<=0.005 (looked up in the benchmark)")
    r.add_argument("--constraint-mode", default="filter", choices=["filter", "penalty"])
    r.add_argument("--data-root", help="datasets for --evaluator train")
    r.add_argument("--option", action="append", help="strategy option key=value (repeatable), e.g. acquisition=ucb")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--out", required=True, help="run directory (journal, trajectory, report); rerun to resume")
    r.add_argument("--no-progress", action="store_true")
    r.set_defaults(func=_cmd_search)

    r = sub.add_parser("verify", help="train candidates for real and record the measurements")
    r.add_argument("--space", default="nb201")
    r.add_argument("--archs", required=True, help="CSV with an arch column (and optionally predicted)")
    r.add_argument("--dataset", default="cifar10", help="cifar10, cifar100, ImageNet16-120, or digits (built in)")
    r.add_argument("--data-root")
    r.add_argument("--epochs", type=int, default=200)
    r.add_argument("--batch-size", type=int, default=256)
    r.add_argument("--lr", type=float, default=0.1)
    r.add_argument("--C", type=int, default=16)
    r.add_argument("--N", type=int, default=5)
    r.add_argument("--seeds", type=int, nargs="+", default=[0])
    r.add_argument("--device", default="auto")
    r.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    r.add_argument("--channels-last", action="store_true")
    r.add_argument("--compile", action="store_true")
    r.add_argument("--backend", default="local", choices=["local", "ray"])
    r.add_argument("--address", help="Ray cluster address (e.g. auto)")
    r.add_argument("--workers", type=int, help="local process-pool workers")
    r.add_argument("--top-k", type=int)
    r.add_argument("--append-to", help="BenchmarkTable parquet to append the new records to")
    r.add_argument("--out", default="runs/verify")
    r.set_defaults(func=_cmd_verify)
    return p


def _print_frame(df: pd.DataFrame) -> None:
    with pd.option_context("display.max_rows", 200, "display.max_columns", 50, "display.width", 200,
                           "display.max_colwidth", 60):
        print(df.to_string(index=False))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SurrogateNASError as e:
        print(f"surrogate-nas: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("surrogate-nas: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
