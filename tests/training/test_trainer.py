from __future__ import annotations

import json

import pytest
import torch

from surrogate_nas.errors import DataError, InvalidArchitectureError, SurrogateNASError
from surrogate_nas.spaces import Architecture
from surrogate_nas.training import TrainConfig, TrainingError, TrainingOOMError, train
from surrogate_nas.training import trainer as trainer_mod

from .conftest import ARCH_A, ARCH_B


def test_trains_a_real_candidate_well_above_chance(tiny_config):
    r = train(ARCH_A, "digits", tiny_config)
    assert r.test_acc > 80.0  # chance is 10%
    assert r.epochs == 3 and len(r.history) == 3 and r.history[-1]["lr"] < r.history[0]["lr"]
    assert r.params > 0 and r.flops > 0 and r.images_per_second > 0 and r.device == "cpu"
    assert r.arch == ARCH_A and r.dataset == "digits" and r.resumed_from_epoch == 0


def test_same_seed_same_result(tiny_config):
    cfg = tiny_config.replace(epochs=1)
    a, b = train(ARCH_B, "digits", cfg), train(ARCH_B, "digits", cfg)
    assert a.test_acc == b.test_acc and a.history[0]["train_loss"] == b.history[0]["train_loss"]


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_from_last_epoch_and_matches(tmp_path, tiny_config):
    full = train(ARCH_B, "digits", tiny_config, checkpoint_dir=tmp_path / "full")

    def stop_after_first(epoch, metrics):
        if epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        train(ARCH_B, "digits", tiny_config, checkpoint_dir=tmp_path / "cut", callback=stop_after_first)
    meta = json.loads((tmp_path / "cut" / "last.json").read_text())
    assert meta["epoch"] == 1 and meta["arch"] == ARCH_B

    resumed = train(ARCH_B, "digits", tiny_config, checkpoint_dir=tmp_path / "cut")
    assert resumed.resumed_from_epoch == 1
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    for h_resumed, h_full in zip(resumed.history, full.history):
        assert h_resumed == pytest.approx(h_full)
    assert resumed.test_acc == pytest.approx(full.test_acc)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)

    # a finished checkpoint resumes to "nothing left to do"
    again = train(ARCH_B, "digits", tiny_config, checkpoint_dir=tmp_path / "cut")
    assert again.resumed_from_epoch == 3 and again.test_acc == pytest.approx(full.test_acc)


def test_checkpoint_of_another_run_is_refused(tmp_path, tiny_config):
    cfg = tiny_config.replace(epochs=1)
    train(ARCH_B, "digits", cfg, checkpoint_dir=tmp_path)
    with pytest.raises(DataError, match="belongs to another run"):
        train(ARCH_A, "digits", cfg, checkpoint_dir=tmp_path)


def test_valid_split_is_evaluated_every_epoch(tiny_config):
    r = train(ARCH_A, "digits", tiny_config.replace(epochs=2, valid_fraction=0.2))
    assert all("valid_acc" in h for h in r.history) and r.valid_acc == r.history[-1]["valid_acc"]


def _observe_training(monkeypatch):
    """Record, for every forward of a convolution of the network (training steps and evaluation), the output dtype, the weight's dtype and memory format, whether the input batch is channels-last, and the mode."""
    from torch import nn

    seen: list[dict] = []
    hooked: set[int] = set()
    real_step, real_eval = trainer_mod._train_step, trainer_mod.evaluate

    def hook(model):
        if id(model) in hooked:
            return
        hooked.add(id(model))
        # a convolution inside a cell (the stem's input has one channel: both memory formats at once)
        conv = next(m for m in model.modules() if isinstance(m, nn.Conv2d) and m.in_channels > 1)
        conv.register_forward_hook(lambda m, inp, out: seen.append({
            "training": m.training, "out": out.dtype, "weight": m.weight.dtype,
            "weight_cl": m.weight.is_contiguous(memory_format=torch.channels_last),
            "input_cl": inp[0].is_contiguous(memory_format=torch.channels_last) and not inp[0].is_contiguous()}))

    def step(model, *args, **kwargs):
        hook(model)
        return real_step(model, *args, **kwargs)

    def evaluate(model, *args, **kwargs):
        hook(model)
        return real_eval(model, *args, **kwargs)

    monkeypatch.setattr(trainer_mod, "_train_step", step)
    monkeypatch.setattr(trainer_mod, "evaluate", evaluate)
    return seen


def test_bf16_autocast_and_channels_last_are_used_on_cpu(monkeypatch, tiny_config):
    """precision='bf16' runs the network's forward passes in bfloat16 (autocast) while the weights stay fp32, in
    training and in evaluation; channels_last puts weights and batches in that memory format. fp32 does neither."""
    seen = _observe_training(monkeypatch)
    cfg = tiny_config.replace(precision="bf16", channels_last=True, device="cpu")  # 3 epochs
    r = train(ARCH_A, "digits", cfg)
    assert {s["training"] for s in seen} == {True, False}  # training steps and evaluation both observed
    assert all(s["out"] == torch.bfloat16 and s["weight"] == torch.float32 for s in seen)
    assert all(s["weight_cl"] and s["input_cl"] for s in seen)
    assert r.test_acc > 80.0 and r.device == "cpu"  # bf16 learns as fp32 does (measured 97%; chance is 10%)

    seen.clear()
    train(ARCH_A, "digits", cfg.replace(epochs=1, precision="fp32", channels_last=False))
    assert seen and all(s["out"] == torch.float32 and not s["weight_cl"] for s in seen)


def test_out_of_memory_gives_a_clear_message(monkeypatch, tiny_config):
    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer_mod, "_train_step", oom)
    with pytest.raises(TrainingOOMError, match=r"out of memory.*batch_size=128.*smaller batch.*batch_size=64"):
        train(ARCH_A, "digits", tiny_config)


def test_bad_input(tiny_config, tmp_path):
    other = Architecture("nas-bench-graph", ("gcn", "gat", "sage", "gin"), (0, 0, 1, 2))
    with pytest.raises(InvalidArchitectureError, match="nas-bench-graph"):
        train(other, "digits", tiny_config)
    with pytest.raises(SurrogateNASError, match="unknown dataset 'imagenet1k'"):
        train(ARCH_A, "imagenet1k", tiny_config)
    with pytest.raises(DataError, match=str(tmp_path / "cifar")):
        train(ARCH_A, "cifar10", tiny_config, data_root=tmp_path / "cifar")
    with pytest.raises(SurrogateNASError, match="batch_size"):
        train(ARCH_A, "digits", tiny_config.replace(batch_size=0))
    with pytest.raises(SurrogateNASError, match="precision"):
        train(ARCH_A, "digits", tiny_config.replace(precision="fp8"))
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="CUDA is not available"):
            train(ARCH_A, "digits", tiny_config.replace(device="cuda"))


def test_config_round_trip_and_fingerprint():
    c = TrainConfig(epochs=12)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert c.fingerprint() == c.replace(progress=False, device="auto").fingerprint()
    assert c.fingerprint() != c.replace(lr=0.05).fingerprint()
    with pytest.raises(SurrogateNASError, match="train config: unknown field .epoch."):
        TrainConfig.from_dict({"epoch": 3})
    # NB-201's recipe for its real datasets; unset size fields follow the dataset, set ones are kept
    for name in ("cifar10", "cifar100", "ImageNet16-120"):
        d = TrainConfig().resolved(name)
        assert (d.epochs, d.batch_size, d.lr, d.momentum, d.nesterov, d.weight_decay, d.C, d.N, d.num_threads) == (
            200, 256, 0.1, 0.9, True, 5e-4, 16, 5, None)
    d = TrainConfig().resolved("digits")
    assert (d.epochs, d.batch_size, d.C, d.N, d.num_threads, d.lr) == (10, 64, 8, 1, 1, 0.1)
    mine = TrainConfig(epochs=1, batch_size=256, C=16, N=5, num_threads=2).resolved("digits")
    assert (mine.epochs, mine.batch_size, mine.C, mine.N, mine.num_threads) == (1, 256, 16, 5, 2)


def test_digits_defaults_fit_the_data():
    """With the recipe left unset, one epoch on digits learns (it took 6 SGD steps at batch 256 and
    stayed at chance with the NB-201 defaults) on the small network."""
    r = train(ARCH_A, "digits", TrainConfig(epochs=1, progress=False))
    assert r.params == 67_426 and r.test_acc > 50.0  # C=8, N=1; chance is 10%


@pytest.mark.parametrize("field, value, message", [
    ("epochs", 0, r"train config: epochs: input should be greater than or equal to 1, got 0"),
    ("epochs", 10**20, r"epochs: input should be less than or equal to 100000, got 100000000000000000000"),
    ("epochs", True, "epochs: must be an integer, not true/false, got True"),
    ("batch_size", -3, "batch_size: input should be greater than or equal to 1, got -3"),
    ("C", 0, "C: input should be greater than or equal to 1, got 0"),
    ("C", 2.5, "C: input should be a valid integer, got 2.5"),
    ("N", -1, "N: input should be greater than or equal to 0, got -1"),
    ("N", True, "N: must be an integer"),
    ("lr", float("nan"), "lr: input should be a finite number, got nan"),
    ("lr", float("inf"), "lr: input should be a finite number, got inf"),
    ("lr", -0.1, "lr: input should be greater than 0, got -0.1"),
    ("lr", 0.0, "lr: input should be greater than 0, got 0.0"),
    ("lr_min", 0.5, r"lr_min \(0.5\) must not exceed lr \(0.1\)"),
    ("momentum", 1.5, "momentum: input should be less than 1, got 1.5"),
    ("num_threads", 0, "num_threads: input should be greater than or equal to 1, got 0"),
    ("seed", -1, "seed: input should be greater than or equal to 0, got -1"),
    ("seed", 2**70, "seed: input should be less than or equal to 4294967295"),
    ("nesterov", "yes", "nesterov: input should be a valid boolean, got 'yes'"),
    ("valid_fraction", "0.2", "valid_fraction: input should be a valid number, got '0.2'"),
    ("precision", "fp16", "precision: input should be 'fp32' or 'bf16', got 'fp16'"),
    ("device", "bogus", "unknown device 'bogus'"),
])
def test_bad_config_values_are_one_clear_error(field, value, message):
    with pytest.raises(SurrogateNASError, match=message):
        TrainConfig(**{field: value}).validate()
    with pytest.raises(SurrogateNASError, match="nesterov=True needs momentum > 0"):
        TrainConfig(momentum=0.0).validate()


@pytest.mark.slow
def test_full_nb201_skeleton_learns_digits_at_32px():
    """The benchmark-size network (C=16, N=5) on digits upsampled to 32x32 (minutes on 2 CPU cores)."""
    from surrogate_nas.training import load_dataset

    data = load_dataset("digits", upsample=4)
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, C=16, N=5, progress=False, num_threads=1)
    r = train(ARCH_A, data, cfg)
    assert data.image_shape == (1, 32, 32) and r.params > 1e6
    assert r.test_acc > 50.0


@pytest.mark.gpu
def test_trains_on_gpu_with_bf16_and_channels_last(tiny_config):
    if not torch.cuda.is_available():
        pytest.fail("a gpu-marked test was selected but CUDA is not available")
    cfg = tiny_config.replace(device="auto", precision="bf16", channels_last=True, num_threads=None)
    r = train(ARCH_A, "digits", cfg)
    assert r.device.startswith("cuda") and r.test_acc > 50.0
