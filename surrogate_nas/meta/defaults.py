"""The default meta-predictor's settings, in a module light enough for ``--help`` and config checks (no torch).

Chosen on the validation targets (NB-201 cifar100; NAS-Bench-Graph cora, photo; experiments/configs/
predictor-defaults*.yaml): the deep-kernel GP head with robust target scaling, meta-validated on a held-out
training task, as an ensemble of :data:`DEFAULT_MEMBERS` meta seeds. ``MetaConfig()`` itself is the bare
learner (MAML); :func:`~surrogate_nas.meta.maml.default_meta_config` builds the default.
"""

DEFAULT_META = {"algorithm": "dkt", "target_scale": "robust", "meta_val": "task"}
DEFAULT_MEMBERS = 3
