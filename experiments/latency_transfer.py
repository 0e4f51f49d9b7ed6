"""Latency as a task: adapt to a new device setting from 10 measurements (leave-one-setting-out).

Each column (setting) of the shipped NB-201 CPU latency table (``data/latency/nb201_cpu_latency.csv``, ms per
batch, lower is better) is one task. For each held-out setting the ``meta`` predictor's checkpoint is
meta-trained on the other settings (``surrogate_nas.meta.pretrain.pretrain``, metric ``latency_ms``,
``higher_is_better=False``), then every method gets the same K measured cells of the held-out setting (per seed)
and is scored by the Spearman rho of its *predicted latency* against the measured latency on all other cells:

* ``meta``: the meta-GNN adapted on the K cells (the registered ``meta`` predictor).
* ``ridge-source``: ridge regression of the target on the other settings' values, fit on the K cells.
* ``source-transfer``: zero-shot mean rank over the other settings. Its score is "goodness" (with
  ``higher_is_better=False``, high = fast), so it is negated to be a latency prediction.
* ``flops``: the network's FLOPs alone (the shipped free features); needs no measurement.
* ``meta/default``: the default meta-predictor as ``surrogate-nas pretrain`` builds it for latency: a deep ensemble
  of ``DEFAULT_MEMBERS`` deep-kernel checkpoints (meta seeds 0, 1, 2; robust target scale; the linear kernel of a
  hardware metric, ``meta.defaults.HARDWARE_META``); ``meta/default:kernel=rbf`` the same with the RBF kernel of
  function-level metrics; ``meta/default-1`` is its seed-0 member alone; ``meta`` is plain MAML (``MetaConfig()``).
* ``meta/ALGO`` (e.g. ``meta/dkt``): ``meta`` with a checkpoint meta-trained with ``algorithm=ALGO``; any other
  registered predictor name is built with the other settings as sources (and the default checkpoint, if its
  factory takes one).
* ``METHOD+ff`` (e.g. ``meta/default+ff``, ``ridge-source+ff``): the same reading the cells' free features too
  (``--features``, default params and FLOPs of each cell's own network); a meta method's checkpoint is then
  meta-trained with them.
* ``meta/ALGO:KEY=VALUE`` (e.g. ``meta/default:source_weights=least-squares``, ``meta/default:kernel=linear``): a
  meta method whose checkpoints are meta-trained with that option, a ``ModelConfig`` field or a ``MetaConfig`` one
  (over the method's own meta-training settings).
* ``METHOD@KEY=VALUE`` (last, e.g. ``meta/default@rank_residual=0.25``): the same checkpoints adapted with that
  adapt option (numbers are read as numbers).

``--meta-seeds 0,7,14`` meta-trains every meta method once per first meta seed (the default ensemble's members: that
seed and the next ones) and, with ``--reference METHOD``, reports each other meta method's difference from it per
meta seed with its standard error (a paired comparison where both adapt the same checkpoints).

Writes ``experiments/results/latency_transfer.md`` and ``.csv`` atomically and prints the table.

    python experiments/latency_transfer.py                     # all settings, K=10, 5 seeds (~25 min, one thread)
    python experiments/latency_transfer.py --quick             # 2 settings, 2 seeds, 30 iterations
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "data" / "latency" / "nb201_cpu_latency.csv"
METRIC = "latency_ms"
DEFAULT_METHODS = ("meta/default", "meta", "ridge-source", "source-transfer", "flops")


def load(path: str | Path = TABLE):
    """The wide latency CSV as a BenchmarkTable (one task per setting, metric ``latency_ms``)."""
    from surrogate_nas.benchmarks.readers import read_table

    return read_table(path, "nb201", metric=METRIC)


def flops(space, archs) -> np.ndarray:
    """FLOPs of each architecture's own network, from the shipped per-string table (FLOPs belong to the string:
    isomorphic cells can differ; ``data/nb201/params_flops.csv.xz``).

    Their convention (NASLib's) ranks the NB-201 cells as ``count_flops(..., convention="nb201")`` does
    (Spearman 1.0 on the table's cells); reading them costs nothing, counting 1,000 networks minutes."""
    from surrogate_nas.features.table import read_params_flops

    feats, _ = read_params_flops()
    return feats.loc[[space.format(a) for a in archs], "flops"].to_numpy(dtype=float)


def split(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """K support indices (seeded) and the rest as query; the table's cells are distinct canonical classes."""
    perm = np.random.default_rng([seed, k]).permutation(n)
    return np.sort(perm[:k]), np.sort(perm[k:])


def base_method(method: str) -> str:
    """The method without its ``+ff`` (free features) suffix, ``:KEY=VALUE`` model option and adapt option."""
    return without_adapt(method).removesuffix("+ff").split(":", 1)[0]


def without_adapt(method: str) -> str:
    """The method without its ``@KEY=VALUE`` adapt option (what its checkpoints depend on)."""
    return method.split("@", 1)[0]


def reads_features(method: str) -> bool:
    """Whether a method reads the cells' free features (``+ff``, before any adapt option)."""
    return without_adapt(method).endswith("+ff")


def adapt_options(method: str) -> dict:
    """The ``@KEY=VALUE`` adapt option of a method ({} without one); a number's value as a number
    (:func:`option_value`)."""
    if "@" not in method:
        return {}
    key, _, value = method.split("@", 1)[1].partition("=")
    return {key: option_value(value)}


def method_options(method: str) -> tuple[dict, dict]:
    """(``ModelConfig`` options, ``MetaConfig`` options) of a meta method ``meta/ALGO:KEY=VALUE[:KEY=VALUE...]``
    (e.g. ``source_weights=least-squares``, ``kernel=linear``, ``source_dropout=0``): each key goes where it is a
    field, a ``MetaConfig`` field first; an unknown key goes to ``ModelConfig``, which refuses it."""
    from surrogate_nas.meta.maml import MetaConfig

    head = without_adapt(method).removesuffix("+ff")
    model, meta = {}, {}
    for part in head.split(":")[1:]:
        key, sep, value = part.partition("=")
        (meta if key in MetaConfig.field_names() else model)[key] = option_value(value) if sep else ""
    return model, meta


def option_value(text: str):
    """A ``:KEY=VALUE`` or ``@KEY=VALUE`` option's value: an integer or a real number where it reads as one
    (``source_dropout=0``), else the text (``kernel=rbf``)."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def predictor_name(method: str) -> str | None:
    """The registered predictor behind a method (None for ``flops``)."""
    method = base_method(method)
    if method == "flops":
        return None
    return "meta" if method.startswith("meta/") else method


def checkpoint_for(method: str) -> str | None:
    """The meta-training algorithm of the checkpoint a method adapts ("" = the default), or None if it takes none."""
    importlib.import_module("surrogate_nas.meta")  # registers the "meta" predictor
    from surrogate_nas.predictors import PREDICTORS

    if method.startswith("meta/"):
        return base_method(method.split("/", 1)[1])
    name = predictor_name(method)
    if name is None or name not in PREDICTORS:
        return None
    return "" if "checkpoint" in inspect.signature(PREDICTORS.factory(name)).parameters else None


def check_methods(methods: list[str]) -> str | None:
    """What is wrong with the method list (None if nothing)."""
    from surrogate_nas.errors import SurrogateNASError
    from surrogate_nas.meta.maml import ALGORITHMS
    from surrogate_nas.predictors import PREDICTORS
    from surrogate_nas.predictors.gnn import ModelConfig

    importlib.import_module("surrogate_nas.meta")  # registers the "meta" predictor
    if not methods:
        return "no methods given"
    for m in methods:
        algo = checkpoint_for(m)
        if algo and algo not in ALGORITHMS and algo not in DEFAULT_ALGORITHMS:
            return (f"method {m!r}: unknown algorithm {algo!r}; algorithms: {', '.join(ALGORITHMS)}, "
                    f"{', '.join(DEFAULT_ALGORITHMS)}")
        model, meta = method_options(m)
        if model or meta:
            if checkpoint_for(m) is None:
                return f"method {m!r}: an option (:KEY=VALUE) needs a method with a checkpoint"
            try:
                ModelConfig(**model)
                meta_config(algo or "", iterations=1, seed=0, meta=meta)
            except SurrogateNASError as e:
                return f"method {m!r}: {e}"
        if adapt_options(m) and checkpoint_for(m) is None:
            return f"method {m!r}: an adapt option (@KEY=VALUE) needs a method with a checkpoint"
        if m != "flops" and predictor_name(m) not in PREDICTORS:
            return (f"unknown method {m!r}; methods: flops, meta, meta/ALGO, or a registered predictor "
                    f"({', '.join(PREDICTORS.names())})")
    return None


def checkpoint_key(method: str) -> tuple[str, bool, tuple, tuple] | None:
    """(algorithm, reads free features, model options, meta options) of the checkpoint a method adapts, or None."""
    algo = checkpoint_for(method)
    if algo is None:
        return None
    model, meta = method_options(method)
    return algo, reads_features(method), tuple(model.items()), tuple(meta.items())


#: The default meta-predictor's settings: ``default`` an ensemble (as ``pretrain`` builds it), ``default-1`` one member.
DEFAULT_ALGORITHMS = ("default", "default-1")


def meta_config(algorithm: str, iterations: int, seed: int, meta: dict | None = None):
    """The MetaConfig of a meta method's checkpoint: the default's settings for latency (``default``, ``default-1``:
    a hardware metric's, with the linear kernel) or plain ``MetaConfig`` with ``algorithm`` ("" = MAML), then the
    ``meta`` options."""
    from surrogate_nas.meta.maml import MetaConfig, default_meta_config

    base = {"iterations": iterations, "seed": seed, **(meta or {})}
    if algorithm in DEFAULT_ALGORITHMS:
        return default_meta_config(METRIC, **base)  # the default for a hardware metric, as pretrain builds it
    return MetaConfig(**({"algorithm": algorithm} if algorithm else {}), **base)


def pretrain_for(table, target: str, algorithm: str, iterations: int, features: tuple = (), model: dict | None = None,
                 meta: dict | None = None, meta_seed: int = 0):
    """The checkpoint (a list of them for the default ensemble: meta seeds ``meta_seed``, ``meta_seed`` + 1, ...) a
    meta method adapts; ``model``: ModelConfig options; ``meta``: MetaConfig options."""
    from surrogate_nas.meta.defaults import DEFAULT_MEMBERS
    from surrogate_nas.meta.pretrain import pretrain
    from surrogate_nas.predictors.gnn import ModelConfig

    def one(seed: int):
        cfg = meta_config(algorithm, iterations, seed, meta)
        return pretrain(table, None, METRIC, ModelConfig(**(model or {})), meta_config=cfg, benchmark_name=None,
                        higher_is_better=False, progress=False, target=target, features=features)

    if algorithm == "default":
        return [one(meta_seed + s) for s in range(DEFAULT_MEMBERS)]
    return one(meta_seed)


def build(method: str, table, sources, ckpts: dict, seed: int, target: str, features: tuple = ()):
    """The predictor of a method, after checking it reads no value of ``target``."""
    from surrogate_nas.benchmarks import check_isolation
    from surrogate_nas.meta.records import tasks_read
    from surrogate_nas.predictors import make_predictor
    from surrogate_nas.predictors.inputs import FreeFeatureValues

    kwargs = {"space": table.space, "seed": seed, "sources": sources, **adapt_options(method)}
    if reads_features(method):
        kwargs["features"] = FreeFeatureValues(table, target, features, METRIC)
    read = list(sources.tasks)
    key = checkpoint_key(method)
    if key is not None:
        ckpt = ckpts[key]
        kwargs.update(checkpoint=ckpt, task=target)
        for member in checkpoints_of(ckpt):
            read = list(dict.fromkeys(read + tasks_read(member, sources)))
    check_isolation(target, read, where=f"latency_transfer {method}")
    return make_predictor(predictor_name(method), **kwargs)


def checkpoints_of(ckpt) -> list:
    """The checkpoints a method adapts: an ensemble's members, one checkpoint, or none (``ckpt`` None)."""
    return [] if ckpt is None else ckpt if isinstance(ckpt, list) else [ckpt]


def members(ckpt) -> int:
    """Checkpoints a method adapts (an ensemble's members; 0 for a method without one)."""
    return len(checkpoints_of(ckpt))


def val_tau(ckpt) -> float:
    """The mean over a method's checkpoints of their best meta-validation tau (``info["best_val_tau"]``: what the
    training tasks say of them, no value of the held-out setting read); NaN without a checkpoint or a tau."""
    taus = [c.info.get("best_val_tau") for c in checkpoints_of(ckpt)]
    return float(np.mean(taus)) if taus and all(t is not None for t in taus) else float("nan")


def run(table, targets, methods, k: int, seeds: int, iterations: int, progress: bool = True,
        features: tuple = (), meta_seeds: tuple = (0,)) -> pd.DataFrame:
    """One row per (target, meta seed, method, seed): Spearman rho of predicted vs measured latency on the query
    cells. Each of ``meta_seeds`` meta-trains the meta methods' checkpoints afresh (:func:`pretrain_for`) and scores
    every method on the same support draws (the methods without a checkpoint score the same each time)."""
    from surrogate_nas.predictors.inputs import SourceValues

    rows = []
    fl = None
    for target in targets:
        archs = table.archs(target, METRIC)
        y = table.vector(target, METRIC, archs)
        if "flops" in methods and fl is None:
            fl = dict(zip(map(table.space.format, archs), flops(table.space, archs)))
        sources = SourceValues(table, tuple(t for t in table.tasks if t != target), METRIC, higher_is_better=False)
        for meta_seed in meta_seeds:
            rows += run_target(table, target, methods, k, seeds, iterations, progress, features, meta_seed,
                               (archs, y, sources, fl))
    return pd.DataFrame(rows)


def run_target(table, target: str, methods, k: int, seeds: int, iterations: int, progress: bool, features: tuple,
               meta_seed: int, data: tuple) -> list[dict]:
    """:func:`run`'s rows of one held-out setting and meta seed; ``data``: the setting's (cells, latencies, source
    values, FLOPs per cell string or None), read once for all meta seeds."""
    archs, y, sources, fl = data
    rows = []
    ckpts, t_meta = {}, {}
    for m in methods:
        key = checkpoint_key(m)
        if key is not None and key not in ckpts:
            t0 = time.perf_counter()
            ckpts[key] = pretrain_for(table, target, key[0], iterations, features=features if key[1] else (),
                                      model=dict(key[2]), meta=dict(key[3]), meta_seed=meta_seed)
            t_meta[key] = time.perf_counter() - t0
    for seed in range(seeds):
        sup, qry = split(len(archs), k, seed)
        done = []
        for m in methods:
            t0 = time.perf_counter()
            rho = score(m, table, sources, ckpts, seed, target, features, archs, y, sup, qry, fl)
            done.append({"target": target, "meta_seed": meta_seed, "method": m, "seed": seed, "k": k,
                         "n_query": len(qry), "spearman_rho": rho, "seconds": time.perf_counter() - t0,
                         "pretrain_seconds": t_meta.get(checkpoint_key(m), np.nan),
                         "members": members(ckpts.get(checkpoint_key(m))),
                         "val_tau": val_tau(ckpts.get(checkpoint_key(m)))})
        if progress:
            print(f"  {target} meta seed {meta_seed} seed {seed}: "
                  + ", ".join(f"{r['method']} {r['spearman_rho']:.3f}" for r in done), file=sys.stderr, flush=True)
        rows += done
    return rows


def score(method: str, table, sources, ckpts: dict, seed: int, target: str, features: tuple, archs, y, sup, qry,
          fl: dict | None) -> float:
    """Spearman rho of ``method``'s latency prediction on the query cells ``qry`` after fitting the support ``sup``
    (NaN for a constant prediction)."""
    from surrogate_nas.predictors.metrics import spearman_rho

    q_archs = [archs[i] for i in qry]
    if method == "flops":
        pred = np.array([fl[table.space.format(a)] for a in q_archs])
    else:
        model = build(method, table, sources, ckpts, seed, target, features).fit([archs[i] for i in sup], y[sup])
        pred = np.asarray(model.predict(q_archs), dtype=float)
        if method == "source-transfer":
            pred = -pred  # its score is goodness (high = fast); as a latency prediction, negate
    return spearman_rho(y[qry], pred) if np.ptp(pred) > 0 else float("nan")


#: Summary rows: the mean over every held-out setting, and apart over the settings the default's hardware settings
#: were chosen on (``meta.defaults.HARDWARE_VALIDATION``) and over the others (held out from that choice too).
MEAN_ROWS = ("mean", "mean, validation settings", "mean, held-out settings")


def summary(df: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Mean (and std) over seeds per held-out setting and method, plus the means over settings (:data:`MEAN_ROWS`:
    all, the default's validation settings, the others; a group without settings in the run is left out)."""
    from surrogate_nas.meta.defaults import HARDWARE_VALIDATION

    g = df.groupby(["target", "method"])["spearman_rho"]
    mean = g.mean().unstack("method")[methods]
    std = g.std().unstack("method")[methods]
    settings = list(mean.index)
    val = [t for t in settings if t in HARDWARE_VALIDATION]
    held = [t for t in settings if t not in HARDWARE_VALIDATION]
    for row, rows in zip(MEAN_ROWS, (settings, val, held)):
        if rows and (row == "mean" or len(rows) < len(settings)):
            mean.loc[row] = mean.loc[rows].mean()
            std.loc[row] = np.nan
    return mean, std


def markdown(df: pd.DataFrame, methods: list[str], meta: dict) -> str:
    from surrogate_nas.meta.defaults import HARDWARE_VALIDATION

    mean, std = summary(df, methods)
    lines = ["# Latency as a task: few-shot adaptation to a held-out setting", "",
             f"Table: `{meta['table']}` ({meta['n_cells']} canonical NB-201 cells x {meta['n_settings']} settings, "
             "ms per batch). Leave-one-setting-out: the meta checkpoint is meta-trained on the other settings "
             f"({meta['iterations']} iterations, metric latency_ms, lower is better); every method gets the same "
             f"K={meta['k']} measured cells of the held-out setting per seed ({meta['seeds']} seeds) and is scored by "
             "Spearman rho of predicted latency vs measured latency on the other "
             f"{meta['n_cells'] - meta['k']} cells (mean over seeds; ± std over seeds)"
             + (f"; meta methods meta-trained from meta seeds {', '.join(map(str, sorted(df['meta_seed'].unique())))}, "
                "figures over all of them." if df["meta_seed"].nunique() > 1 else "."), "",
             "`flops` (the network's FLOPs) needs no measurement; `source-transfer` (zero-shot: the mean rank over "
             "the other settings, negated into a latency prediction) ignores the K cells; `ridge-source` is ridge "
             "regression on the other settings' values, fit on the K cells; `+ff`: the same reading the cells' free "
             f"features ({', '.join(meta['features'])}) too. `meta/default` is the default as `pretrain` builds it "
             "for a hardware metric (the linear kernel, chosen on the validation settings "
             f"{', '.join(f'`{t}`' for t in HARDWARE_VALIDATION)}: the held-out settings' mean is the headline).", "",
             "| held-out setting | " + " | ".join(methods) + " |",
             "|---|" + "---|" * len(methods)]
    for t in mean.index:
        cells = []
        for m in methods:
            v, s = mean.loc[t, m], std.loc[t, m]
            cells.append(f"{v:.3f}" + (f" ± {s:.3f}" if np.isfinite(s) else ""))
        label = f"**{t}**" if t in MEAN_ROWS else f"`{t}`"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += paired_section(df, methods, meta.get("reference"))
    lines += ["", f"Command: `{meta['command']}`; wall time {meta['wall_s']:.0f} s "
                  f"({meta['threads']} torch thread(s)); torch {meta['torch']}.", ""]
    return "\n".join(lines)


def paired_section(df: pd.DataFrame, methods: list[str], reference: str | None) -> list[str]:
    """Markdown lines where the run holds several meta seeds and a ``reference`` method: each other meta method's
    difference from it per meta seed (the mean over settings and support draws: checkpoints of one meta seed, so a
    paired difference where both adapt them), their mean, standard error ``sd / sqrt(n)`` and the mean in standard
    errors. Nothing otherwise."""
    if reference is None or df["meta_seed"].nunique() < 2:
        return []
    per_seed = df.groupby(["meta_seed", "method"])["spearman_rho"].mean().unstack("method")
    others = [m for m in methods if m != reference and checkpoint_key(m) is not None]
    diff = per_seed[others].sub(per_seed[reference], axis=0).T
    n = diff.shape[1]
    diff.columns = [f"meta seed {s}" for s in diff.columns]
    diff["mean"] = diff.iloc[:, :n].mean(axis=1)
    diff["se"] = diff.iloc[:, :n].std(axis=1) / n**0.5
    diff["mean / se"] = diff["mean"] / diff["se"]
    return ["", f"Difference from `{reference}` per meta seed (mean Spearman over the settings above and the support "
            "draws; each meta seed's checkpoints meta-trained afresh):", "", diff.round(4).to_markdown(), ""]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", default=str(TABLE), help="wide latency CSV (arch,<setting>,...)")
    ap.add_argument("--targets", help="comma-separated held-out settings (default: every setting)")
    ap.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                    help="comma-separated: flops, meta, meta/ALGO, source-transfer or any registered predictor")
    ap.add_argument("--k", type=int, default=10, help="measured cells of the held-out setting")
    ap.add_argument("--features", default="params,flops",
                    help="comma-separated free features the +ff methods read (default: params,flops)")
    ap.add_argument("--seeds", type=int, default=5, help="support draws per held-out setting")
    ap.add_argument("--iterations", type=int,
                    help="meta-training iterations per held-out setting (default: pretrain's, MetaConfig.iterations)")
    ap.add_argument("--meta-seeds", default="0",
                    help="comma-separated first meta seeds, each meta-training every meta method afresh (the default "
                         "ensemble's members: the seed and the next ones; default 0)")
    ap.add_argument("--reference", help="with several meta seeds: the method the others' differences per meta seed "
                                        "are taken from (paired on the same checkpoints)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1: on a shared machine a second thread waits for a busy core)")
    ap.add_argument("--out", default=str(ROOT / "experiments" / "results"), help="directory of the .md and .csv")
    ap.add_argument("--quick", action="store_true", help="2 settings, 2 seeds, 30 iterations (a smoke run)")
    ap.add_argument("--no-write", action="store_true", help="print only")
    args = ap.parse_args(argv)
    import torch

    from surrogate_nas.io import atomic_write_text

    torch.set_num_threads(args.threads)
    table = load(args.table)
    targets = args.targets.split(",") if args.targets else list(table.tasks)
    bad = [t for t in targets if t not in table.tasks]
    if bad:
        ap.error(f"unknown setting(s) {', '.join(bad)}; the table has {', '.join(table.tasks)}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    problem = check_methods(methods)
    if problem:
        ap.error(problem)
    try:
        meta_seeds = tuple(int(s) for s in args.meta_seeds.split(","))
    except ValueError:
        ap.error(f"--meta-seeds {args.meta_seeds!r}: expected comma-separated integers")
    if args.reference is not None and args.reference not in methods:
        ap.error(f"--reference {args.reference!r} is not one of the methods")
    if args.iterations is None:
        from surrogate_nas.meta.maml import MetaConfig

        args.iterations = MetaConfig().iterations  # the default as `surrogate-nas pretrain` meta-trains it
    if args.quick:
        targets, args.seeds, args.iterations = targets[:2], 2, 30
    t0 = time.perf_counter()
    features = tuple(f.strip() for f in args.features.split(",") if f.strip())
    df = run(table, targets, methods, args.k, args.seeds, args.iterations, features=features, meta_seeds=meta_seeds)
    meta = {"table": Path(args.table).resolve().relative_to(ROOT).as_posix()
            if Path(args.table).resolve().is_relative_to(ROOT) else args.table,
            "n_cells": len(table.archs(targets[0], METRIC)), "n_settings": len(table.tasks),
            "iterations": args.iterations, "k": args.k, "seeds": args.seeds, "threads": args.threads,
            "reference": args.reference,
            "features": features,
            "torch": torch.__version__, "wall_s": time.perf_counter() - t0,
            "command": " ".join(["python experiments/latency_transfer.py",
                                 *(argv if argv is not None else sys.argv[1:])])}
    md = markdown(df, methods, meta)
    print(md)
    if not args.no_write:
        out = Path(args.out)
        atomic_write_text(out / "latency_transfer.csv", df.to_csv(index=False))
        atomic_write_text(out / "latency_transfer.md", md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
