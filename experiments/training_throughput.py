"""Training throughput (images/s) of the NB-201 network: fp32 eager vs bf16 autocast + channels_last.

Each configuration runs full training steps (forward, backward, SGD Nesterov step) of the
C=16, N=5 NB-201 network on the same batch; configurations are interleaved over ``--repeats``
rounds and the median images/s per configuration is reported with the ratio to fp32 eager.

    python experiments/training_throughput.py --quick            # CPU-friendly, under a minute
    python experiments/training_throughput.py --device auto --compile   # full mode on a GPU
    python experiments/training_throughput.py --dataset cifar10 --data-root DIR   # real CIFAR batch

Full mode writes ``experiments/results/training_throughput.{md,csv}``. Without ``--data-root`` the
batch is a seeded random tensor of CIFAR shape (3x32x32): throughput does not depend on pixel values.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from surrogate_nas.io import atomic_write_text  # noqa: E402
from surrogate_nas.training import build_network, load_dataset, resolve_device  # noqa: E402
from surrogate_nas.training.trainer import _autocast  # noqa: E402

#: Best CIFAR-10 cell of NB-201 (a conv-heavy, representative candidate).
DEFAULT_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def make_batch(args, device):
    if args.data_root:
        data = load_dataset(args.dataset, args.data_root)
        x, y = data.train_x[: args.batch_size], data.train_y[: args.batch_size]
        return data.prepare(x, device), y.to(device), data.num_classes
    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(args.batch_size, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (args.batch_size,), generator=g)
    return x.to(device), y.to(device), 10


class Runner:
    def __init__(self, name, args, device, x, y, num_classes, precision, channels_last, compile_):
        self.name, self.device, self.precision = name, device, precision
        net = build_network(args.arch, num_classes, C=args.C, N=args.N, seed=args.seed).to(device)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        self.x, self.y = x, y
        self.model = torch.compile(net) if compile_ else net
        self.opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
        self.model.train()

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        with _autocast(self.device, self.precision):
            loss = torch.nn.functional.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()

    def sync(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def measure(self, steps):
        self.sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.sync()
        return steps * self.x.shape[0] / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small batch, few steps (CI / CPU, under a minute)")
    p.add_argument("--device", default="auto", help="cpu | cuda | auto (default)")
    p.add_argument("--compile", action="store_true", help="also measure bf16 + channels_last + torch.compile")
    p.add_argument("--arch", default=DEFAULT_ARCH)
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--N", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="timed steps per repeat")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--data-root", default=None)
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads on CPU")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "training_throughput"))
    args = p.parse_args(argv)

    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    if args.threads is None and args.quick and not gpu:
        # one thread: on a small, shared CPU box two OpenMP threads can thrash and run many times slower
        args.threads = 1
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, device, gpu)
    finally:
        torch.set_num_threads(threads_before)


def _run(args, device, gpu):
    quick_defaults = dict(batch_size=32, steps=3, warmup=1, repeats=3)
    full_defaults = dict(batch_size=256 if gpu else 64, steps=20 if gpu else 5, warmup=5 if gpu else 2, repeats=5)
    for k, v in (quick_defaults if args.quick else full_defaults).items():
        if getattr(args, k) is None:
            setattr(args, k, v)

    x, y, num_classes = make_batch(args, device)
    configs = [
        ("fp32 eager", "fp32", False, False),
        ("fp32 + channels_last", "fp32", True, False),
        ("bf16 autocast", "bf16", False, False),
        ("bf16 autocast + channels_last", "bf16", True, False),
    ]
    if args.compile:
        configs.append(("bf16 + channels_last + compile", "bf16", True, True))
    runners = [Runner(n, args, device, x, y, num_classes, pr, cl, co) for n, pr, cl, co in configs]

    for r in runners:  # warm-up (and compilation) outside the timed rounds
        for _ in range(args.warmup):
            r.step()
        r.sync()
    samples = {r.name: [] for r in runners}
    for _ in range(args.repeats):  # interleaved, so background load hits every configuration alike
        for r in runners:
            samples[r.name].append(r.measure(args.steps))

    dev_name = torch.cuda.get_device_name(device) if gpu else f"cpu ({torch.get_num_threads()} threads)"
    base = statistics.median(samples["fp32 eager"])
    rows = []
    for name, s in samples.items():
        med = statistics.median(s)
        rows.append({"config": name, "median_images_per_s": med, "min": min(s), "max": max(s), "ratio_vs_fp32": med / base})
    header = (f"NB-201 training throughput: device {dev_name}, torch {torch.__version__}, batch {args.batch_size}, "
              f"C={args.C}, N={args.N}, {args.steps} steps x {args.repeats} repeats (median), seed {args.seed}")
    lines = [header, "", "| config | images/s (median) | min | max | ratio vs fp32 eager |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['config']} | {r['median_images_per_s']:.1f} | {r['min']:.1f} | {r['max']:.1f} | {r['ratio_vs_fp32']:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        import pandas as pd

        out = Path(args.out)
        atomic_write_text(out.with_suffix(".md"), text)
        atomic_write_text(out.with_suffix(".csv"), pd.DataFrame(rows).assign(device=dev_name, batch=args.batch_size).to_csv(index=False))
        print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")
    return rows


if __name__ == "__main__":
    main()
