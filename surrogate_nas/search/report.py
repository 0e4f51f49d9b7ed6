"""Search results a person can read: best-so-far plots (band over seeds) and markdown tables."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..io import atomic_path


def best_so_far_band(traj: pd.DataFrame, column: str = "best_test", budget: int | None = None) -> pd.DataFrame:
    """From long trajectories (method, seed, evaluation, column) to median / quartiles per method and step.

    A run that stopped early keeps its last best value for the remaining steps.
    """
    out = []
    for method, g in traj.groupby("method", sort=False):
        n = int(budget or g["evaluation"].max())
        mat = []
        for _, s in g.groupby("seed"):
            v = s.sort_values("evaluation")[column].to_numpy(dtype=float)
            if len(v) < n:
                v = np.concatenate([v, np.full(n - len(v), v[-1] if len(v) else np.nan)])
            mat.append(v[:n])
        with warnings.catch_warnings():  # steps before a multi-fidelity run's first full measurement are NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            q = np.nanpercentile(np.array(mat), [25, 50, 75], axis=0)
        out.append(
            pd.DataFrame(
                {
                    "method": method,
                    "evaluation": np.arange(1, n + 1),
                    "q25": q[0],
                    "median": q[1],
                    "q75": q[2],
                    "seeds": len(mat),
                }
            )
        )
    return pd.concat(out, ignore_index=True)


def best_so_far_figure(
    traj: pd.DataFrame,
    column: str = "best_test",
    title: str = "",
    ylabel: str = "best so far",
    optimum: float | None = None,
    logx: bool = True,
    budget: int | None = None,
    optimum_label: str = "optimum",
):
    """The figure :func:`plot_best_so_far` saves: per method a step line (median; a best-so-far value holds until
    the next improvement) and a 25-75 % band, integer evaluation ticks, the optimum (or the protocol's ceiling)
    drawn, and a y-range that includes the first evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, MaxNLocator, NullFormatter, NullLocator, ScalarFormatter

    band = best_so_far_band(traj, column, budget)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for method, g in band.groupby("method", sort=False):
        seeds = int(g["seeds"].iloc[0])
        ax.step(g["evaluation"], g["median"], where="post", label=f"{method} (n={seeds})", lw=1.6)
        if seeds > 1:
            ax.fill_between(g["evaluation"], g["q25"], g["q75"], step="post", alpha=0.18)
    if optimum is not None:
        ax.axhline(optimum, color="k", ls=":", lw=1, label=f"{optimum_label} {optimum:.4g}")
    n = int(band["evaluation"].max())
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if t <= n]))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(1, n)
    ax.set_xlabel("evaluations (support measurements included)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    lo = np.nanmin(band["q25"])  # the first evaluation included: where every search starts
    hi = np.nanmax(band["q75"]) if optimum is None else max(optimum, np.nanmax(band["q75"]))
    if np.isfinite(lo) and np.isfinite(hi) and hi > lo:
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    fig.tight_layout()
    return fig


def plot_best_so_far(traj: pd.DataFrame, path: str | os.PathLike, column: str = "best_test", *args, **kwargs) -> None:
    """:func:`best_so_far_figure` saved as PNG (atomically)."""
    import matplotlib.pyplot as plt

    fig = best_so_far_figure(traj, column, *args, **kwargs)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def markdown_table(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    """A GitHub markdown table (tabulate): ``|`` inside a cell (NB-201 arch strings) is escaped, a
    missing value is an empty cell."""
    from tabulate import tabulate

    def cell(x):
        if isinstance(x, (float, np.floating)) and np.isnan(x):
            return None
        return x.replace("|", r"\|") if isinstance(x, str) else x

    rows = [[cell(x) for x in row] for row in df.itertuples(index=False)]
    return tabulate(rows, headers=[cell(str(c)) for c in df.columns], tablefmt="pipe", floatfmt=floatfmt, missingval="")


def at_budgets(traj: pd.DataFrame, budgets: Sequence[int], column: str = "best_test") -> pd.DataFrame:
    """Per (method, seed): the best-so-far ``column`` after each budget (the last value if the run was shorter)."""
    rows = []
    for (method, seed), g in traj.groupby(["method", "seed"], sort=False):
        g = g.sort_values("evaluation")
        for b in budgets:
            h = g[g["evaluation"] <= b]
            if len(h) and g["evaluation"].max() >= b:
                rows.append({"method": method, "seed": seed, "evaluations": b, column: float(h[column].iloc[-1])})
    return pd.DataFrame(rows)
