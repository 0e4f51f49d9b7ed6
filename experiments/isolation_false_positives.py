"""How often would the target-isolation guard mistake a *different* real task for a source copy?

For every ordered pair of NB-201 tasks (support task, source task), draws random support sets of n
architectures and counts how often ``check_isolation`` (no task named) refuses them: a refusal here is
a false positive, since the support comes from another task. Also checks that every real copy is
caught (support = the source's own values: raw, rescaled to [0, 1], as error = 100 - accuracy, and
rounded to 1 decimal or to 3 decimals of the [0, 1] scale).

    python experiments/isolation_false_positives.py [--draws 2000] [--sizes 4 5 10 20 50 100]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from surrogate_nas.benchmarks import TargetLeakError, check_isolation, load_benchmark


def refused(table, source, archs, values) -> bool:
    try:
        check_isolation(None, [source], where="fp", table=table, metric="test_acc", support=(archs, values))
    except TargetLeakError:
        return True
    return False


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 5, 10, 20, 30, 50, 100])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    table = load_benchmark("nb201")
    archs = table.archs("cifar10", "test_acc")
    values = {t: table.vector(t, "test_acc", archs) for t in table.tasks}
    rng = np.random.default_rng(args.seed)
    print(f"NB-201, {args.draws} random support sets per (n, task pair); refusal rate of a different task "
          "(false positive) and of the source's own values (must be 1.0)")
    print(f"{'n':>5} {'support task':>15} {'source task':>15} {'false pos.':>10} {'copy caught':>11}")
    for n in args.sizes:
        for sup, src in itertools.permutations(table.tasks, 2):
            fp = caught = 0
            for _ in range(args.draws):
                idx = rng.choice(len(archs), n, replace=False)
                sel = [archs[i] for i in idx]
                fp += refused(table, src, sel, values[sup][idx])
                v = values[src][idx]
                copy = [v, v / 100.0, 100.0 - v, np.round(v, 1), np.round(v / 100.0, 3)][_ % 5]
                caught += refused(table, src, sel, copy)
            print(f"{n:>5} {sup:>15} {src:>15} {fp / args.draws:>10.4f} {caught / args.draws:>11.4f}")


if __name__ == "__main__":
    main()
