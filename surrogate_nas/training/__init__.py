"""Real training of candidates: the faithful NB-201 network, its trainer, and top-k verification
locally or on Ray.

Entry points: :func:`verify` (``surrogate-nas verify``), :class:`TrainingEvaluator`
(``search --evaluator train``), :func:`train` (one run), :func:`build_network`.
Nothing here imports Ray or torchvision until it is used.
"""

from .backends import BACKENDS, Backend, LocalBackend, RayBackend, TrainJob, get_backend, make_job, run_job
from .data import DATASETS, ImageData, check_dataset, dataset_names, load_dataset
from .network import NB201Network, build_network, count_flops, count_parameters
from .trainer import TrainConfig, TrainingError, TrainingOOMError, TrainResult, resolve_device, train
from .verify import TrainingEvaluator, VerifyConfig, read_candidates, verify

__all__ = [
    "BACKENDS", "Backend", "LocalBackend", "RayBackend", "TrainJob", "get_backend", "make_job", "run_job",
    "DATASETS", "ImageData", "check_dataset", "dataset_names", "load_dataset",
    "NB201Network", "build_network", "count_flops", "count_parameters",
    "TrainConfig", "TrainingError", "TrainingOOMError", "TrainResult", "resolve_device", "train",
    "TrainingEvaluator", "VerifyConfig", "read_candidates", "verify",
]
