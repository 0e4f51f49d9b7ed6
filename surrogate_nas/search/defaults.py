"""The search strategies' defaults, in one light module (no torch): the constructors, the CLI and the
experiment grid read them from here.

Chosen on the validation targets only (NB-201 cifar100; NAS-Bench-Graph cora, photo): see
``experiments/configs/search-defaults.yaml`` and ``experiments/results/search_defaults.md``.
"""

from __future__ import annotations

#: Guided search: the acquisition over the candidate pool and the support it starts from.
ACQUISITION = "mean"
N_SUPPORT = 5

#: Hierarchical search: groups probed in the coarse phase, groups committed to, the most of the space they may
#: hold, members averaged by the group prior.
HAS = {"probe_groups": 8, "commit": 3, "commit_fraction": 0.2, "group_top": 3}

#: Options the experiment grid gives guided and hierarchical search (the rest are the constructors' defaults).
GUIDED_OPTIONS = {"n_support": N_SUPPORT}
HAS_OPTIONS: dict = {}
