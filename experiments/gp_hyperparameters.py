"""The deep-kernel GP head's meta-learned hyper-parameters in the checkpoints of predictor-quality run directories: per
benchmark and checkpoint variant, the range over the checkpoints found of the outputscale, the noise, the median
ARD lengthscale and the smallest one (constraints applied, as the fitted GP reads them). A diagnosis of what a
meta-training option learned; it chooses nothing.

    python experiments/gp_hyperparameters.py runs/gpp-s0 runs/gpp-s7 runs/gpp-s14 \\
        --variants dkt,dkt-gplr-0.02,dkt-gpprior-1,dkt-gpprior-0.5
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
import torch

from surrogate_nas.meta.checkpoint import load_checkpoint
from surrogate_nas.meta.deep_kernel import make_gp


def hyper_parameters(path: Path) -> dict[str, float]:
    """One deep-kernel checkpoint's outputscale, noise and lengthscales (median, min) of its ARD embedding kernel."""
    ck = load_checkpoint(path)
    gp = make_gp(ck.model.embedding_dim(), ck.meta.get("kernel", "rbf"), state=ck.gp)
    with torch.no_grad():
        lengthscale = gp.covar_module.base_kernel.lengthscale.flatten()
        return {
            "outputscale": float(gp.covar_module.outputscale),
            "noise": float(gp.likelihood.noise),
            "lengthscale_median": float(lengthscale.median()),
            "lengthscale_min": float(lengthscale.min()),
        }


def collect(run_dirs: list[Path], variants: list[str]) -> pd.DataFrame:
    """A row per checkpoint ``RUN/checkpoints/BENCHMARK/TARGET/VARIANT-seedN`` of the named variants."""
    rows = []
    for run in run_dirs:
        for path in sorted((run / "checkpoints").glob("*/*/*-seed*")):
            m = re.fullmatch(r"(.+)-seed(\d+)", path.name)
            if m is None or m.group(1) not in variants:
                continue
            benchmark, target = path.parent.parent.name, path.parent.name
            rows.append({"benchmark": benchmark, "target": target, "variant": m.group(1), "seed": int(m.group(2)),
                         **hyper_parameters(path)})
    if not rows:
        raise SystemExit(f"no checkpoint of {variants} under {[str(r) for r in run_dirs]}")
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (benchmark, variant): the number of checkpoints and each hyper-parameter's min and max."""
    cols = ["outputscale", "noise", "lengthscale_median", "lengthscale_min"]
    groups = rows.groupby(["benchmark", "variant"])
    out = groups[cols].agg(["min", "max"]).round(3)
    out.columns = [f"{name} {stat}" for name, stat in out.columns]
    return pd.concat([groups.size().rename("checkpoints"), out], axis=1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="predictor-quality run directories")
    ap.add_argument("--variants", required=True, help="comma-separated checkpoint variants (dkt, dkt-gplr-0.02, ...)")
    args = ap.parse_args(argv)
    print(summary(collect(args.runs, args.variants.split(","))).to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
