"""Image data: loaders (folder, .npz, CIFAR pickles), built-in sets, splits, labels, bad input.

Everything is written to ``tmp_path`` by the tests themselves: no downloads, no network.
"""

from __future__ import annotations

import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

from toyflow.images import data as D
from toyflow.images.data import ImageDataset


def _png(path, array, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8), mode=mode).save(path)


# --- folder --------------------------------------------------------------------------------------


def test_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        for i in range(5):
            _png(str(tmp_path / cls / f"{i}.png"), rng.integers(0, 256, (12, 10, 3)))
    # a JPEG counts too
    Image.fromarray(rng.integers(0, 256, (12, 10, 3)).astype(np.uint8)).save(
        tmp_path / "dog" / "x.jpg"
    )
    ds = D.load_folder(tmp_path, val_fraction=0.25, seed=1)
    assert ds.event_shape == (12, 10, 3)
    assert ds.n_train + ds.n_val == 11 and ds.n_val == 3
    assert ds.class_names == ("cat", "dog")
    assert ds.num_classes == 2
    all_labels = np.concatenate([ds.train_labels, ds.val_labels])
    assert sorted(np.bincount(all_labels).tolist()) == [5, 6]
    assert ds.train_x.dtype == np.float32
    assert ds.train_x.min() >= -1.0 and ds.train_x.max() <= 1.0
    # deterministic split
    again = D.load_folder(tmp_path, val_fraction=0.25, seed=1)
    np.testing.assert_array_equal(ds.train_x, again.train_x)


def test_folder_pixel_values_are_scaled_exactly(tmp_path):
    img = np.array([[0, 255], [127, 64]], np.uint8)
    _png(str(tmp_path / "a.png"), img)
    _png(str(tmp_path / "b.png"), img)
    ds = D.load_folder(tmp_path, val_fraction=0.0)
    assert ds.event_shape == (2, 2, 1)  # grayscale stays one channel
    np.testing.assert_allclose(ds.train_x[0, ..., 0], img / 127.5 - 1.0, atol=1e-6)
    assert ds.train_labels is None


def test_folder_sizes_must_match_unless_resized(tmp_path):
    _png(str(tmp_path / "a.png"), np.zeros((8, 8, 3)))
    _png(str(tmp_path / "b.png"), np.zeros((16, 16, 3)))
    with pytest.raises(ValueError, match=r"different sizes.*size="):
        D.load_folder(tmp_path)
    ds = D.load_folder(tmp_path, size=6, val_fraction=0.0)
    assert ds.event_shape == (6, 6, 3)
    ds = D.load_folder(tmp_path, size=(4, 6), val_fraction=0.0)
    assert ds.event_shape == (4, 6, 3)


def test_folder_bad_input(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        D.load_folder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(ValueError, match="no PNG or JPEG"):
        D.load_folder(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    _png(str(bad / "ok.png"), np.zeros((4, 4, 3)))
    (bad / "broken.png").write_bytes(b"this is not a png")
    with pytest.raises(ValueError, match=r"broken.png"):
        D.load_folder(bad)
    mixed = tmp_path / "mixed"
    _png(str(mixed / "top.png"), np.zeros((4, 4, 3)))
    _png(str(mixed / "cls" / "inner.png"), np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="both at the top level and in class sub-folders"):
        D.load_folder(mixed)


# --- npz ------------------------------------------------------------------------------------------


def test_npz_uint8_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 6, 6, 3), dtype=np.uint8)
    y = np.arange(20) % 4
    np.savez(tmp_path / "d.npz", x=x, y=y)
    ds = D.load_npz(tmp_path / "d.npz", val_fraction=0.2, seed=0)
    assert (ds.n_train, ds.n_val) == (16, 4)
    assert ds.num_classes == 4
    # every image keeps its label through the split
    flat = x.reshape(20, -1).astype(np.float32) / 127.5 - 1
    for img, lab in zip(ds.train_x, ds.train_labels):
        i = int(np.argmin(np.abs(flat - img.reshape(-1)).sum(axis=1)))
        assert y[i] == lab


def test_npz_float_ranges_channels_first_and_explicit_val(tmp_path):
    x01 = np.random.default_rng(1).uniform(0, 1, (10, 3, 5, 5)).astype(np.float32)  # NCHW in [0, 1]
    np.savez(tmp_path / "f.npz", images=x01, val=x01[:2])
    ds = D.load_npz(tmp_path / "f.npz", key="images", label_key=None, val_key="val")
    assert ds.event_shape == (5, 5, 3)
    assert ds.n_train == 10 and ds.n_val == 2
    np.testing.assert_allclose(ds.train_x[0], np.transpose(x01[0], (1, 2, 0)) * 2 - 1, atol=1e-6)
    np.savez(tmp_path / "g.npz", x=np.zeros((4, 5, 5)))  # grayscale (N, H, W)
    assert D.load_npz(tmp_path / "g.npz", val_fraction=0.0).event_shape == (5, 5, 1)


@pytest.mark.parametrize(
    "arrays, match",
    [
        (dict(x=np.zeros((4, 25))), "shape"),  # wrong rank
        (dict(x=np.full((4, 5, 5, 3), 3.0)), r"\[0, 1\] or \[-1, 1\]"),  # float out of range
        (dict(x=np.array([["a"] * 5] * 4)), "numeric"),  # strings
        (
            dict(x=np.zeros((4, 5, 5, 3)), y=np.zeros(3)),
            r"one label per image",
        ),  # mismatched labels
        (dict(x=np.full((4, 5, 5, 3), np.nan)), "NaN"),
        (dict(img=np.zeros((4, 5, 5, 3))), "no array 'x'"),
        (dict(x=np.zeros((0, 5, 5, 3))), "empty"),
    ],
)
def test_npz_bad_input(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        D.load_npz(tmp_path / "bad.npz")


def test_npz_unreadable(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot read"):
        D.load_npz(tmp_path / "junk.npz")
    with pytest.raises(ValueError, match="does not exist"):
        D.load_npz(tmp_path / "nothing.npz")


# --- CIFAR pickles -----------------------------------------------------------------------------------


def _cifar_batch(n, seed, labels_key=b"labels"):
    rng = np.random.default_rng(seed)
    return {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        labels_key: list(rng.integers(0, 10, n)),
        b"batch_label": b"fake",
    }


def _write_cifar10(folder):
    os.makedirs(folder, exist_ok=True)
    batches = {f"data_batch_{i}": _cifar_batch(6, i) for i in (1, 2)}
    batches["test_batch"] = _cifar_batch(4, 9)
    for name, b in batches.items():
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(b, f, protocol=2)
    with open(os.path.join(folder, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f, protocol=2)
    return batches


def test_cifar10_folder_and_tarball(tmp_path):
    batches = _write_cifar10(str(tmp_path / "cifar-10-batches-py"))
    for path in (tmp_path, tmp_path / "cifar-10-batches-py"):
        ds = D.load_cifar(path)
        assert ds.event_shape == (32, 32, 3)
        assert (ds.n_train, ds.n_val) == (12, 4)
        assert ds.class_names[3] == "class3"
        # pixel (row 0, col 1) of the first image: channel planes of 1024 values each
        raw = batches["data_batch_1"][b"data"][0]
        np.testing.assert_allclose(ds.train_x[0, 0, 1], raw[[1, 1025, 2049]] / 127.5 - 1, atol=1e-6)
        np.testing.assert_array_equal(ds.train_labels[:6], batches["data_batch_1"][b"labels"])
    tar = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(tar, "w:gz") as t:
        t.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    assert D.load_cifar(tar).n_train == 12


def test_cifar100_fine_and_coarse(tmp_path):
    for name, n in (("train", 5), ("test", 3)):
        b = _cifar_batch(n, 1, b"fine_labels")
        b[b"coarse_labels"] = [i % 2 for i in range(n)]
        with open(tmp_path / name, "wb") as f:
            pickle.dump(b, f, protocol=2)
    fine = D.load_cifar(tmp_path)
    coarse = D.load_cifar(tmp_path, label_kind="coarse")
    assert fine.n_train == 5 and fine.n_val == 3
    assert set(coarse.train_labels.tolist()) <= {0, 1}


def test_cifar_bad_input(tmp_path):
    with pytest.raises(ValueError, match="no CIFAR batches"):
        D.load_cifar(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        D.load_cifar(tmp_path / "missing")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f)
    with pytest.raises(ValueError, match="refusing"):
        D.load_cifar(tmp_path)
    with open(tmp_path / "data_batch_1", "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 2]}, f, protocol=2)
    with pytest.raises(ValueError, match="one label per image"):
        D.load_cifar(tmp_path)


# --- built-in sets ------------------------------------------------------------------------------------


def test_digits_sizes():
    d8 = D.digits()
    assert d8.event_shape == (8, 8, 1) and d8.n_train + d8.n_val == 1797
    assert d8.num_classes == 10 and d8.train_x.min() == -1.0 and d8.train_x.max() == 1.0
    d16 = D.digits(16)
    assert d16.event_shape == (16, 16, 1)
    np.testing.assert_array_equal(d16.train_x[:, 4:12, 4:12], d8.train_x)  # padded, same split
    assert np.all(d16.train_x[:, :4] == -1.0)
    d32 = D.digits(32, mode="resize")
    assert d32.event_shape == (32, 32, 1)
    assert np.all(np.abs(d32.train_x) <= 1.0)
    with pytest.raises(ValueError, match="digits mode"):
        D.digits(16, mode="stretch")


@pytest.mark.parametrize("kind", ["shapes", "textures"])
def test_procedural_deterministic_any_resolution(kind):
    a = D.procedural(40, size=20, channels=3, kind=kind, seed=5)
    b = D.procedural(40, size=20, channels=3, kind=kind, seed=5)
    c = D.procedural(40, size=20, channels=3, kind=kind, seed=6)
    np.testing.assert_array_equal(a.train_x, b.train_x)
    np.testing.assert_array_equal(a.train_labels, b.train_labels)
    assert not np.allclose(a.train_x, c.train_x)
    assert a.event_shape == (20, 20, 3) and a.n_train + a.n_val == 40
    assert a.train_x.min() >= -1 and a.train_x.max() <= 1
    assert a.num_classes == 4 and len(a.class_names) == 4
    # images are not constant: there is a shape or a pattern to learn
    assert np.all(a.train_x.reshape(a.n_train, -1).std(axis=1) > 0.02)
    gray = D.procedural(10, size=64, channels=1, kind=kind, seed=0)
    assert gray.event_shape == (64, 64, 1)


def test_registry_lists_names():
    assert {"digits", "shapes", "textures"} <= set(D.IMAGE_DATASETS)
    with pytest.raises(ValueError, match=r"digits.*shapes"):
        D.load_image_dataset("cifar-from-the-internet")
    assert D.load_image_dataset("shapes", n=20, size=8).event_shape == (8, 8, 3)


# --- the data set object ---------------------------------------------------------------------------


def test_dataset_validation():
    x = np.zeros((4, 5, 5, 1), np.float32)
    with pytest.raises(ValueError, match=r"shape \(N, H, W, C\)"):
        ImageDataset(np.zeros((4, 25)), x)
    with pytest.raises(ValueError, match="real numbers"):
        ImageDataset(np.full((4, 5, 5, 1), "a"), x)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        ImageDataset(x + 200.0, x)
    with pytest.raises(ValueError, match="one label per image"):
        ImageDataset(x, x, np.zeros(3, int), np.zeros(4, int))
    with pytest.raises(ValueError, match="val_x images have shape"):
        ImageDataset(x, np.zeros((2, 4, 4, 1)))
    with pytest.raises(ValueError, match="both"):
        ImageDataset(x, x, np.zeros(4, int), None)
    with pytest.raises(ValueError, match=r"whole numbers|integers"):
        ImageDataset(x, x, np.full(4, 0.5), np.zeros(4, int))


def test_subset_and_kmeans_labels():
    ds = D.digits()
    sub = ds.subset(300, n_val=50, seed=2)
    assert (sub.n_train, sub.n_val) == (300, 50)
    assert np.all(np.isin(sub.train_labels, np.arange(10)))
    km = sub.with_kmeans_labels(6, seed=0)
    assert km.num_classes == 6
    assert set(np.unique(km.train_labels)) == set(range(6))
    assert km.val_labels.shape == (50,) and km.val_labels.max() < 6
    # pseudo-labels group similar images: within-cluster spread is below the overall spread
    flat = km.train_x.reshape(300, -1)
    within = np.mean([flat[km.train_labels == k].var(axis=0).sum() for k in range(6)])
    assert within < flat.var(axis=0).sum()
    assert sub.unlabelled().train_labels is None
