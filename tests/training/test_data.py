from __future__ import annotations

import numpy as np
import pytest
import torch

from surrogate_nas.errors import DataError, SurrogateNASError
from surrogate_nas.training import ImageData, check_dataset, dataset_names, load_dataset
from surrogate_nas.training.data import iterate_batches


def test_registered_names():
    assert {"digits", "cifar10", "cifar100", "ImageNet16-120"} <= set(dataset_names())


def test_digits_is_real_and_split_is_seeded():
    d = load_dataset("digits")
    assert isinstance(d, ImageData)
    assert d.num_classes == 10 and d.image_shape == (1, 8, 8)
    assert len(d) + len(d.test_y) == 1797
    assert set(d.test_y.tolist()) == set(range(10))
    again, other = load_dataset("digits"), load_dataset("digits", seed=1)
    assert torch.equal(d.test_y, again.test_y) and not torch.equal(d.test_x, other.test_x)
    x = d.prepare(d.train_x[:64], torch.device("cpu"))
    assert x.dtype == torch.float32 and abs(float(x.mean())) < 0.5


def test_unknown_dataset_lists_choices():
    with pytest.raises(SurrogateNASError, match="unknown dataset 'mnist'.*cifar10"):
        load_dataset("mnist")
    with pytest.raises(SurrogateNASError, match="unknown dataset"):
        check_dataset("svhn")


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "ImageNet16-120"])
def test_missing_data_root_names_path_and_how_to_get_it(tmp_path, name):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError) as e:
        load_dataset(name, missing)
    assert str(missing) in str(e.value) and ("download" in str(e.value) or "create" in str(e.value))
    with pytest.raises(DataError, match="needs a data root"):
        check_dataset(name, None)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=str(empty)):
        check_dataset(name, empty)


def _write_cifar_bin(path, n, label_bytes, rng):
    rec = np.zeros((n, label_bytes + 3072), dtype=np.uint8)
    rec[:, label_bytes - 1] = rng.integers(0, 10, n)
    rec[:, label_bytes:] = rng.integers(0, 256, (n, 3072))
    rec.tofile(path)
    return rec


def test_cifar10_binary_reader(tmp_path):
    """Mechanics of the no-pickle binary reader on a tiny file in the official record layout."""
    rng = np.random.default_rng(0)
    d = tmp_path / "cifar-10-batches-bin"
    d.mkdir()
    recs = [_write_cifar_bin(d / f"data_batch_{i}.bin", 3, 1, rng) for i in range(1, 6)]
    test = _write_cifar_bin(d / "test_batch.bin", 4, 1, rng)
    assert check_dataset("CIFAR10", tmp_path) == "cifar10"
    data = load_dataset("cifar10", tmp_path)
    assert data.train_x.shape == (15, 3, 32, 32) and data.test_x.shape == (4, 3, 32, 32)
    assert data.train_y.tolist() == np.concatenate([r[:, 0] for r in recs]).tolist()
    assert torch.equal(data.test_x[1], torch.from_numpy(test[1, 1:].reshape(3, 32, 32)))
    assert data.augment and data.num_classes == 10
    g = torch.Generator().manual_seed(0)
    assert data.prepare(data.train_x[:5], torch.device("cpu"), generator=g).shape == (5, 3, 32, 32)
    (d / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="not a CIFAR binary batch"):
        load_dataset("cifar10", tmp_path)


def test_imagenet16_npz_reader(tmp_path):
    rng = np.random.default_rng(0)
    base = tmp_path / "ImageNet16-120"
    base.mkdir()
    for split, n in (("train", 12), ("val", 6)):
        np.savez(base / f"{split}.npz", x=rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8), y=np.arange(n) % 120)
    data = load_dataset("imagenet16-120", tmp_path)
    assert data.num_classes == 120 and data.image_shape == (3, 16, 16) and len(data) == 12
    np.savez(base / "val.npz", x=np.zeros((2, 32, 32, 3), np.uint8), y=np.zeros(2, int))
    with pytest.raises(DataError, match=r"expected \(16, 16, 3\)"):
        load_dataset("ImageNet16-120", tmp_path)


def test_batches_cover_everything_once_and_shuffle_is_seeded():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    b1, b2 = list(iterate_batches(10, 4, g1)), list(iterate_batches(10, 4, g2))
    assert [len(b) for b in b1] == [4, 4, 2]
    assert sorted(torch.cat(b1).tolist()) == list(range(10))
    assert all(torch.equal(x, y) for x, y in zip(b1, b2))


def test_valid_split_is_held_out_of_train():
    d = load_dataset("digits")
    v = d.split_valid(0.2, seed=0)
    assert len(v) + len(v.test_y) == len(d)
    assert torch.equal(v.test_y, d.split_valid(0.2, seed=0).test_y)


def test_random_crop_flip_matches_a_per_image_reference():
    from surrogate_nas.training.data import _random_crop_flip

    x = torch.randn(6, 3, 8, 8)
    out = _random_crop_flip(x, 2, torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    offsets = torch.randint(0, 5, (6, 2), generator=g)
    flips = torch.rand(6, generator=g) < 0.5
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(6):
        oy, ox = int(offsets[i, 0]), int(offsets[i, 1])
        ref = padded[i, :, oy : oy + 8, ox : ox + 8]
        assert torch.equal(out[i], ref.flip(-1) if flips[i] else ref)
    assert flips.any() and not flips.all()


def test_cifar_python_version_without_torchvision_is_refused_up_front(tmp_path, monkeypatch):
    from surrogate_nas.training import data as data_mod

    (tmp_path / "cifar-10-batches-py").mkdir()
    monkeypatch.setattr(data_mod, "_torchvision", lambda: None)
    with pytest.raises(DataError, match="torchvision is not importable.*binary version"):
        check_dataset("cifar10", tmp_path)
    with pytest.raises(DataError, match="torchvision is not importable"):
        load_dataset("cifar10", tmp_path)
