"""`verify`: train candidates for real and record the measurements."""

from __future__ import annotations

import argparse

from ..errors import SurrogateNASError
from .common import config_mapping, config_option, print_frame, require

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
    require(args, "archs")

    from ..training import TrainConfig, VerifyConfig, verify

    train_fields = {**args.extra.get("train", {}), **{f: getattr(args, d) for d, f in VERIFY_TRAIN.items()}}
    train_fields.setdefault("seed", args.seeds[0])
    opts = dict(config_mapping(args, "backend_options"))
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
    print_frame(
        res[[c for c in ("arch", "seed", "status", "predicted", "test_acc", "params_m", "train_seconds") if c in res]]
    )
    return 0


def register(sub) -> None:
    """Add the `verify` command(s) to the subparsers ``sub``."""
    r = sub.add_parser(
        "verify",
        help="train candidates for real and record the measurements",
        description="Train candidates for real (NB-201 network and recipe) and record the measurements.",
    )
    config_option(r, "VerifyConfig fields with a train: section (TrainConfig fields), plus archs")
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
