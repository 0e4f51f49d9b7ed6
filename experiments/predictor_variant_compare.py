"""Compare variants of one predictor-quality method across run directories (a defaults round on the validation
targets), against a reference method, and apply the round's rule.

Each variant is ``LABEL[:METHOD]=DIR[,DIR...]``: run directories of ``surrogate-nas experiment run
predictor-quality`` (one per meta seed); their rows of ``METHOD`` (default ``--method``) become the variant
``LABEL``. The reference (``--reference``, default ``meta-dkt``) is read from every directory that holds it (rows
repeated across directories count once per meta seed), or only from ``--reference-runs DIR[,DIR...]`` (needed
when the variants are the reference method run with other settings). Prints and writes (``--dest``): mean
Kendall tau per target and K, the mean difference from the reference per benchmark and K, and the rule's figure:
the smallest of those differences (the variant whose worst benchmark and K is best wins); then, per benchmark and
K, each method's 90% coverage, tau within the top 5% and precision@1%; where an arm has several run directories (one per
meta-seed triple), each directory's overall mean tau, each arm's spread and each variant's difference against its
standard error.

    python experiments/predictor_variant_compare.py --method meta-dkt+ff \\
        apart=runs/ff-apart,runs/ff-apart-s1,runs/ff-apart-s2 mix=runs/ff-mix-s0,runs/ff-mix-s1,runs/ff-mix-s2 \\
        --name predictor_features_apart --dest experiments/results
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def read_variants(specs: list[str], method: str, reference: str, reference_runs: list[str] | None = None):
    """Rows of every variant (method renamed to its label) and of the reference, with a ``meta_dir`` column."""
    parts, seen_ref = [], set()
    for d in reference_runs or []:
        rows = _rows(d, f"reference {reference}")
        if not (rows.method == reference).any():
            raise SystemExit(f"{d}: no rows of the reference method {reference!r}")
        seen_ref.add(d)
        parts.append(rows[rows.method == reference].assign(meta_dir=d))
    for spec in specs:
        label, own_method, dirs = variant_spec(spec)
        own_method = own_method or method
        for d in dirs:
            rows = _rows(d, f"variant {label}")
            own = rows[rows.method == own_method].assign(method=label, meta_dir=d)
            if own.empty:
                raise SystemExit(f"variant {label}: {d} has no rows of method {own_method!r}")
            parts.append(own)
            if reference_runs is None and d not in seen_ref and (rows.method == reference).any():
                seen_ref.add(d)
                parts.append(rows[rows.method == reference].assign(meta_dir=d))
    if not seen_ref:
        raise SystemExit(f"no run directory holds the reference method {reference!r}")
    return pd.concat(parts, ignore_index=True)


def variant_spec(spec: str) -> tuple[str, str, list[str]]:
    """(label, method or "" for ``--method``, run directories) of a ``LABEL[:METHOD]=DIR[,DIR...]`` argument."""
    label, _, dirs = spec.partition("=")
    label, _, own_method = label.partition(":")
    if not label or not dirs:
        raise SystemExit(f"variant {spec!r}: expected LABEL[:METHOD]=DIR[,DIR...]")
    return label, own_method, dirs.split(",")


def _rows(run_dir: str, what: str) -> pd.DataFrame:
    path = Path(run_dir) / "predictor_quality.csv"
    if not path.is_file():
        raise SystemExit(f"{what}: {path} does not exist (run the grid into {run_dir} first)")
    return pd.read_csv(path)


def tables(rows: pd.DataFrame, reference: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(mean tau per benchmark/target/K, mean difference from the reference per benchmark/K, the rule's figure)."""
    tau = rows.groupby(["benchmark", "target_task", "k", "method"]).kendall_tau.mean().unstack()
    delta = tau.drop(columns=reference).sub(tau[reference], axis=0)
    per_bench = delta.groupby(level=["benchmark", "k"]).mean()
    return tau, per_bench, per_bench.min().sort_values(ascending=False)


def select_targets(rows: pd.DataFrame, which: str) -> pd.DataFrame:
    """The rows of the ``which`` targets: ``all``, ``validation`` (the defaults' targets) or ``held-out`` (the rest)."""
    from surrogate_nas.experiment.config import VALIDATION_TARGETS

    if which == "all":
        return rows
    val = [t in VALIDATION_TARGETS.get(b, ()) for b, t in zip(rows.benchmark, rows.target_task)]
    keep = pd.Series(val, index=rows.index) == (which == "validation")
    if not keep.any():
        raise SystemExit(f"no rows of {which} targets in the run directories")
    return rows[keep]


#: Further measures of every method per benchmark and K (column, how cells are pooled, heading).
MEASURES = (
    ("coverage_90", "median", "90% interval coverage (median over cells)"),
    ("kendall_tau_top", "mean", "Kendall tau within the true top 5% (mean)"),
    ("precision_at_1pct", "mean", "precision@1% (mean)"),
)


def measures(rows: pd.DataFrame, reference: str) -> list[str]:
    """Markdown sections: each of :data:`MEASURES` the rows hold, per benchmark and K (a column per method), then
    the mean over K of each variant's difference from ``reference`` per benchmark (what the rounds' rules on the
    top of the ranking read), Kendall tau first."""
    out, means = [], {}
    for col, how, heading in (("kendall_tau", "mean", "Kendall tau"), *MEASURES):
        if col not in rows:
            continue
        table = rows.groupby(["benchmark", "k", "method"])[col].agg(how).unstack()
        if col != "kendall_tau":
            out += [f"## {heading}", "", table.round(3).to_markdown(), ""]
        if how == "mean":
            diff = table.drop(columns=reference).sub(table[reference], axis=0)
            means[col] = diff.groupby(level="benchmark").mean().stack()
    summary = pd.DataFrame(means).round(4).to_markdown()
    out += [f"## Mean over K of the difference from `{reference}`, per benchmark", "", summary, ""]
    return out


def run_spread(rows: pd.DataFrame, reference: str) -> list[str]:
    """Markdown section where an arm has several run directories (one per meta-seed triple): each directory's overall
    mean Kendall tau (over (benchmark, K), each benchmark's targets averaged), each arm's mean, sd and standard error
    over its directories, and each variant's difference from ``reference`` with the standard error of that difference
    (the two arms' standard errors in quadrature). Nothing where every arm has one directory."""
    per_dir = rows.groupby(["method", "meta_dir", "benchmark", "k"]).kendall_tau.mean().groupby(["method", "meta_dir"])
    overall = per_dir.mean()
    if overall.groupby(level="method").size().max() < 2:
        return []
    arms = overall.groupby(level="method").agg(["mean", "std", "count"])
    arms["se"] = arms["std"] / arms["count"] ** 0.5
    lines = ["## Overall mean tau per run directory, and each arm's spread over its directories", "",
             overall.round(4).to_frame("overall mean tau").to_markdown(), "", arms.round(4).to_markdown(), ""]
    ref = arms.loc[reference]
    diff = pd.DataFrame({
        "difference": arms["mean"].drop(reference) - ref["mean"],
        "se of the difference": (arms["se"].drop(reference) ** 2 + ref["se"] ** 2) ** 0.5,
    })
    diff["difference / se"] = diff["difference"] / diff["se of the difference"]
    return [*lines, f"Against `{reference}`:", "", diff.round(4).to_markdown(), ""]


#: The figures :func:`paired_triples` reads per benchmark: the mean over K of each measure.
PAIRED_MEASURES = ("kendall_tau", "kendall_tau_top", "precision_at_1pct")


def paired_triples(rows: pd.DataFrame, reference: str, variant: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Markdown section for a variant whose run directories pair one to one with the reference's (``pairs``: (variant
    directory, reference directory), e.g. an adapt option on the same members): per benchmark and measure of
    :data:`PAIRED_MEASURES` (the mean over K), each pair's difference ``d_t``, their mean and standard error
    ``sd(d_t) / sqrt(n)`` and the mean in standard errors."""
    cols = [c for c in PAIRED_MEASURES if c in rows]

    def over_k(method: str, run_dir: str) -> pd.DataFrame:
        part = rows[(rows.method == method) & (rows.meta_dir == run_dir)]
        if part.empty:
            raise SystemExit(f"pair {var_dir}={ref_dir}: no rows of {method!r} in {run_dir}")
        return part.groupby(["benchmark", "k"])[cols].mean().groupby("benchmark").mean()

    figures = {}
    for i, (var_dir, ref_dir) in enumerate(pairs):
        figures[f"pair {i}"] = (over_k(variant, var_dir) - over_k(reference, ref_dir)).stack()
    table = pd.DataFrame(figures)
    n = table.shape[1]
    table["mean"] = table.iloc[:, :n].mean(axis=1)
    table["se"] = table.iloc[:, :n].std(axis=1) / n**0.5
    table["mean / se"] = table["mean"] / table["se"]
    heading = f"## `{variant}` minus `{reference}`, paired run directories (mean over K per benchmark)"
    pairs_line = "; ".join(f"pair {i}: {v} against {r}" for i, (v, r) in enumerate(pairs))
    return [heading, "", pairs_line + ".", "", table.round(4).to_markdown(), ""]


TARGET_LABELS = {"all": "every target in the runs", "validation": "validation targets", "held-out": "held-out targets"}


#: The last table's heading: a round's rule on validation targets; on held-out targets the same figure is a
#: measurement (held-out targets choose nothing).
RULE_HEADINGS = {
    False: "## The rule: the smallest difference over (benchmark, K); the largest wins",
    True: "## The smallest difference over (benchmark, K) (held-out targets: a measurement, not a choice)",
}


def report(tau: pd.DataFrame, per_bench: pd.DataFrame, rule: pd.Series, rows: pd.DataFrame, args) -> str:
    seeds = rows.groupby("method").meta_dir.nunique()
    lines = [
        f"# {args.name}: variants of `{args.method}` against `{args.reference}` ({TARGET_LABELS[args.targets]})",
        "",
        "Mean Kendall tau over support seeds and meta seeds (run directories: "
        + ", ".join(f"{m} {n}" for m, n in seeds.items())
        + ").",
        "",
        tau.round(3).to_markdown(),
        "",
        f"## Mean difference from `{args.reference}` per benchmark and K",
        "",
        per_bench.round(4).to_markdown(),
        "",
        RULE_HEADINGS[args.targets == "held-out"],
        "",
        rule.round(4).to_frame("worst difference").to_markdown(),
        "",
        *measures(rows, args.reference),
        *run_spread(rows, args.reference),
        *(paired_triples(rows, args.reference, *args.paired) if args.paired else []),
        "Command: `python experiments/predictor_variant_compare.py " + " ".join(sys.argv[1:]) + "`",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("variants", nargs="+", help="LABEL[:METHOD]=DIR[,DIR...] (one run directory per meta seed)")
    p.add_argument("--method", required=True, help="the method whose variants the directories hold")
    p.add_argument("--reference", default="meta-dkt", help="the method the variants are compared with")
    p.add_argument("--reference-runs", help="DIR[,DIR...]: read the reference from these run directories only")
    p.add_argument("--name", default="predictor_variants", help="file name of the written report")
    p.add_argument("--dest", help="write NAME.md and NAME.csv here")
    p.add_argument("--targets", choices=tuple(TARGET_LABELS), default="all",
                   help="the targets compared (default all in the runs: a round's runs hold validation targets only)")
    p.add_argument("--paired", metavar="LABEL",
                   help="pair LABEL's run directories one to one, in order, with --reference-runs (the same members: "
                        "an adapt option) and report the paired differences against their standard error")
    args = p.parse_args(argv)
    ref_runs = args.reference_runs.split(",") if args.reference_runs else None
    if args.paired:
        own = next((dirs for label, _, dirs in map(variant_spec, args.variants) if label == args.paired), None)
        if own is None or ref_runs is None or len(own) != len(ref_runs):
            p.error("--paired LABEL needs a variant LABEL=DIR,... with as many directories as --reference-runs")
        args.paired = (args.paired, list(zip(own, ref_runs)))
    rows = select_targets(read_variants(args.variants, args.method, args.reference, ref_runs), args.targets)
    tau, per_bench, rule = tables(rows, args.reference)
    text = report(tau, per_bench, rule, rows, args)
    print(text)
    if args.dest:
        dest = Path(args.dest)
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f".{args.name}.md.tmp"
        tmp.write_text(text)
        tmp.replace(dest / f"{args.name}.md")
        tau.reset_index().to_csv(dest / f".{args.name}.csv.tmp", index=False)
        (dest / f".{args.name}.csv.tmp").replace(dest / f"{args.name}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
