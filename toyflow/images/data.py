r"""Image data without downloads: loaders for files you have, and built-in sets.

Every loader returns an :class:`ImageDataset`: ``train_x`` / ``val_x`` of shape ``(N, H, W, C)``,
float32, scaled to ``[-1, 1]`` (the EDM convention for images), optional integer labels and
class names. Pixel scaling::

    uint8 (0…255)   →  x / 127.5 − 1
    float in [0, 1] →  2x − 1
    float in [-1, 1]   kept

Sources (nothing is downloaded; a path is always given):

- :func:`load_folder`: PNG/JPEG files in a folder; sub-folders become classes (the
  ``ImageFolder`` layout), images at the top level are unlabelled.
- :func:`load_npz`: a ``.npz`` archive with an image array (and optional labels).
- :func:`load_cifar`: CIFAR-10/100 in the python-pickle layout (the extracted folder or the
  ``.tar.gz``), read with a restricted unpickler that only rebuilds NumPy arrays.

Built-in sets: :func:`digits` (scikit-learn's bundled 8×8 digits, 1797 images, padded or
resized to any size) and :func:`procedural` (shapes or textures at any resolution, deterministic
from a seed). :data:`IMAGE_DATASETS` is their registry.

Splits are deterministic permutations from ``seed``; :meth:`ImageDataset.subset` takes a
training subset (e.g. the 500 images on which the optimal denoiser memorises), and
:meth:`ImageDataset.with_kmeans_labels` replaces the labels by k-means pseudo-labels (condition
granularity, as in the paper's image experiments with K from 2 to 500).
"""

from __future__ import annotations

import dataclasses
import io
import os
import pickle
import tarfile
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, cast

import numpy as np

from toyflow._validation import as_labels, check_float, check_int, lookup
from toyflow.datasets import holdout
from toyflow.registry import Registry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 4096 * 4096


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """Images split into training and validation sets.

    train_x: ``(N, H, W, C)`` float32 in ``[-1, 1]``; val_x: ``(M, H, W, C)`` (M may be 0);
    train_labels / val_labels: ``(N,)`` / ``(M,)`` int32 or ``None``; class_names: one name per
    label value (or ``None``).
    """

    train_x: np.ndarray
    val_x: np.ndarray
    train_labels: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    name: str = "images"
    class_names: tuple[str, ...] | None = None

    def __post_init__(self):
        tx = check_images(self.train_x, "train_x")
        vx = (
            check_images(self.val_x, "val_x", allow_empty=True)
            if np.asarray(self.val_x).size
            else np.zeros((0,) + tx.shape[1:], np.float32)
        )
        if vx.shape[1:] != tx.shape[1:]:
            raise ValueError(
                f"val_x images have shape {vx.shape[1:]} but train_x images {tx.shape[1:]}"
            )
        if (self.train_labels is None) != (self.val_labels is None) and vx.shape[0] > 0:
            raise ValueError(
                "give labels for both the training and the validation images, or for neither"
            )
        tl = (
            None
            if self.train_labels is None
            else check_labels(self.train_labels, tx.shape[0], "train_labels")
        )
        vl = None
        if self.val_labels is not None or tl is not None:
            vl = check_labels(
                self.val_labels if self.val_labels is not None else np.zeros(0, np.int32),
                vx.shape[0],
                "val_labels",
            )
        object.__setattr__(self, "train_x", tx)
        object.__setattr__(self, "val_x", vx)
        object.__setattr__(self, "train_labels", tl)
        object.__setattr__(self, "val_labels", vl)
        if self.class_names is not None:
            names = tuple(str(c) for c in self.class_names)
            top = max(
                [
                    int(tl.max()) if tl is not None and tl.size else -1,
                    int(vl.max()) if vl is not None and vl.size else -1,
                ]
            )
            if top >= len(names):
                raise ValueError(
                    f"labels go up to {top} but only {len(names)} class names were given"
                )
            object.__setattr__(self, "class_names", names)

    # --- shapes and counts ---------------------------------------------------------------------
    @property
    def event_shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.train_x.shape[1:])  # type: ignore[return-value]

    @property
    def n_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.val_x.shape[0])

    @property
    def num_classes(self) -> int | None:
        """Number of label values (``max + 1`` over both splits, or the class names)."""
        if self.train_labels is None:
            return None
        top = int(self.train_labels.max()) + 1
        if self.val_labels is not None and self.val_labels.size:
            top = max(top, int(self.val_labels.max()) + 1)
        return max(top, len(self.class_names or ()))

    def __repr__(self) -> str:
        lab = "" if self.num_classes is None else f", {self.num_classes} classes"
        h, w, c = self.event_shape
        return f"ImageDataset({self.name!r}: {self.n_train} train + {self.n_val} val, {h}×{w}×{c}{lab})"

    # --- derived data sets -----------------------------------------------------------------------
    def subset(self, n_train: int, *, n_val: int | None = None, seed: int = 0) -> ImageDataset:
        """A random training subset of ``n_train`` images (and optionally ``n_val`` validation
        images), deterministic from ``seed``."""
        n_train = check_int(n_train, "n_train", 1, self.n_train)
        rng = np.random.default_rng(check_int(seed, "seed", 0, 2**63 - 1))
        ti = np.sort(rng.permutation(self.n_train)[:n_train])
        vi = np.arange(self.n_val)
        if n_val is not None:
            vi = np.sort(rng.permutation(self.n_val)[: check_int(n_val, "n_val", 0, self.n_val)])
        pick = lambda a, i: None if a is None else a[i]
        return ImageDataset(
            self.train_x[ti],
            self.val_x[vi],
            pick(self.train_labels, ti),
            pick(self.val_labels, vi),
            f"{self.name}[{n_train}]",
            self.class_names,
        )

    def with_labels(
        self,
        train_labels,
        val_labels,
        class_names: Sequence[str] | None = None,
        name: str | None = None,
    ) -> ImageDataset:
        """The same images with other labels (``None`` for both makes it unlabelled)."""
        return ImageDataset(
            self.train_x,
            self.val_x,
            train_labels,
            val_labels,
            name or self.name,
            None if class_names is None else tuple(class_names),
        )

    def with_kmeans_labels(self, k: int, *, seed: int = 0) -> ImageDataset:
        """k-means pseudo-labels on flattened pixels: ``K`` clusters of the training images;
        validation images get their nearest centre (:func:`toyflow.labels.make_labels`)."""
        from toyflow.labels import make_labels

        k = check_int(k, "k", 1, self.n_train)
        val = self.val_x.reshape(self.n_val, -1) if self.n_val else None
        tl, vl = make_labels(
            self.train_x.reshape(self.n_train, -1), "kmeans", k=k, val_x=val, seed=seed
        )
        if vl is None:
            vl = np.zeros(0, np.int32)
        return ImageDataset(
            self.train_x,
            self.val_x,
            tl,
            vl,
            f"{self.name}/kmeans{k}",
            tuple(f"cluster {i}" for i in range(k)),
        )

    def unlabelled(self) -> ImageDataset:
        return ImageDataset(self.train_x, self.val_x, None, None, self.name, None)


# --- validation and scaling ---------------------------------------------------------------------


def check_images(x: Any, name: str = "x", *, allow_empty: bool = False) -> np.ndarray:
    """Validate a batch of images ``(N, H, W, C)`` already in ``[-1, 1]``; float32 numpy out."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise ValueError(f"{name} must be an array of images, got {type(x).__name__}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W, C), got shape {arr.shape}")
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: it needs at least one image")
    if min(arr.shape[1:]) < 1:
        raise ValueError(
            f"{name} images must have positive height, width and channels, got {arr.shape[1:]}"
        )
    arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if arr.size and (arr.min() < -1.0 - 1e-4 or arr.max() > 1.0 + 1e-4):
        raise ValueError(
            f"{name} must be scaled to [-1, 1], got values in "
            f"[{float(arr.min()):g}, {float(arr.max()):g}]; use to_unit_range()"
        )
    return np.clip(arr, -1.0, 1.0)


def check_labels(labels: Any, n: int, name: str = "labels") -> np.ndarray:
    """Integer labels ``(n,)`` matching ``n`` images (``ValueError`` on a mismatch)."""
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have one label per image, shape ({n},), got shape {arr.shape}"
        )
    checked = as_labels(arr, n, name)
    assert checked is not None  # not None for an array
    return checked


def to_unit_range(x: Any, name: str = "images") -> np.ndarray:
    """Scale images to ``[-1, 1]`` float32 (see the module docstring); adds a channel axis to
    ``(N, H, W)`` grayscale. Other ranges raise ``ValueError``."""
    arr = np.asarray(x)
    if (
        arr.dtype == bool
        or arr.dtype == object
        or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating))
    ):
        raise ValueError(f"{name} must be a numeric array (uint8 or float), got dtype {arr.dtype}")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"{name} must have shape (N, H, W) or (N, H, W, C), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one image")
    if np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise ValueError(f"integer {name} must be in 0…255, got values in [{lo}, {hi}]")
        return (arr.astype(np.float32) / 127.5 - 1.0).astype(np.float32)
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    low, high = float(arr.min()), float(arr.max())
    if low >= 0.0 and high <= 1.0:
        return 2.0 * arr - 1.0
    if low >= -1.0 and high <= 1.0:
        return arr
    raise ValueError(
        f"float {name} must be in [0, 1] or [-1, 1], got values in [{low:g}, {high:g}]"
    )


def split(x: np.ndarray, labels: np.ndarray | None, val_fraction: float, seed: int):
    """Deterministic train/validation split: ``(train_x, val_x, train_labels, val_labels)``."""
    val_fraction = check_float(val_fraction, "val_fraction", 0.0, 0.9)
    n = x.shape[0]
    if n - round(n * val_fraction) < 1:
        raise ValueError(f"{n} images are too few to keep a validation fraction of {val_fraction}")
    ti, vi = holdout(n, val_fraction, seed)
    if labels is None:
        return x[ti], x[vi], None, None
    return x[ti], x[vi], labels[ti], labels[vi]


def resize_images(x: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize ``(N, H, W, C)`` images in ``[-1, 1]`` to ``size`` (antialiased bilinear)."""
    import jax
    import jax.numpy as jnp

    h, w = _height_width(size)
    out = jax.image.resize(
        jnp.asarray(x, jnp.float32), (x.shape[0], h, w, x.shape[3]), "linear", antialias=True
    )
    return np.clip(np.asarray(out), -1.0, 1.0)


def _height_width(size: int | tuple[int, int]) -> tuple[int, int]:
    """``(H, W)`` from an int (square) or a pair, each in ``[1, 4096]``."""
    if np.ndim(size) == 0:
        h = w = size
    else:
        h, w = cast("tuple[int, int]", size)
    return check_int(h, "height", 1, 4096), check_int(w, "width", 1, 4096)


# --- loaders ------------------------------------------------------------------------------------


def _read_image(path: str, size: tuple[int, int] | None):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = "L" if img.mode in ("1", "L", "I;16", "I", "F", "LA") else "RGB"
            image = img.convert(mode)
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
            return np.asarray(image, np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"cannot read image {path!r}: {exc}") from exc


def load_folder(
    path: str | os.PathLike,
    size: int | tuple[int, int] | None = None,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
) -> ImageDataset:
    """Images from a folder of PNG/JPEG files.

    Images directly in ``path`` are unlabelled; images in sub-folders (one level) are labelled by
    sub-folder, in sorted order (``class_names`` are the folder names). All images must share one
    size unless ``size`` (an int for square, or ``(H, W)``) resizes them. Grayscale images stay
    one channel unless the folder mixes them with colour ones (then all become RGB).
    """
    root = os.fspath(path)
    if not os.path.isdir(root):
        raise ValueError(f"image folder {root!r} does not exist or is not a folder")
    is_img = lambda f: f.lower().endswith(IMAGE_SUFFIXES) and not f.startswith(".")
    top = sorted(f for f in os.listdir(root) if is_img(f) and os.path.isfile(os.path.join(root, f)))
    subdirs = sorted(
        d
        for d in os.listdir(root)
        if os.path.isdir(os.path.join(root, d)) and not d.startswith(".")
    )
    files: list[tuple[str, int]] = [(os.path.join(root, f), -1) for f in top]
    classes: list[str] = []
    for d in subdirs:
        inner = sorted(f for f in os.listdir(os.path.join(root, d)) if is_img(f))
        if inner:
            files += [(os.path.join(root, d, f), len(classes)) for f in inner]
            classes.append(d)
    if not files:
        raise ValueError(
            f"no PNG or JPEG images found in {root!r} (looked for {', '.join(IMAGE_SUFFIXES)} "
            f"files at the top level and in sub-folders)"
        )
    if top and classes:
        raise ValueError(
            f"{root!r} has images both at the top level and in class sub-folders; "
            f"put all of them in sub-folders (labelled) or at the top level (unlabelled)"
        )
    if limit is not None:
        files = files[: check_int(limit, "limit", 1, 10_000_000)]
    hw = None if size is None else _height_width(size)
    if hw is not None:
        hw = (check_int(hw[0], "size", 1, 4096), check_int(hw[1], "size", 1, 4096))
    images = [_read_image(f, hw) for f, _ in files]
    shapes = {im.shape[:2] for im in images}
    if len(shapes) > 1:
        raise ValueError(
            f"images in {root!r} have different sizes {sorted(shapes)[:4]}; pass size= "
            f"to resize them to one size"
        )
    if any(im.ndim == 3 for im in images):
        images = [np.repeat(im[..., None], 3, axis=-1) if im.ndim == 2 else im for im in images]
    x = to_unit_range(np.stack(images), "images")
    labels = np.array([lab for _, lab in files], np.int32) if classes else None
    tx, vx, tl, vl = split(x, labels, val_fraction, seed)
    return ImageDataset(
        tx,
        vx,
        tl,
        vl,
        os.path.basename(os.path.normpath(root)) or "folder",
        tuple(classes) if classes else None,
    )


def load_npz(
    path: str | os.PathLike,
    key: str = "x",
    label_key: str | None = "y",
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    val_key: str | None = None,
    val_label_key: str | None = None,
) -> ImageDataset:
    """Images from a ``.npz`` archive: ``key`` holds ``(N, H, W)``, ``(N, H, W, C)`` or
    ``(N, C, H, W)`` (C ≤ 4) images, uint8 or float in ``[0, 1]`` / ``[-1, 1]``; ``label_key``
    optional labels (used when present). With ``val_key`` the validation images come from the
    archive instead of a random split."""
    p = os.fspath(path)
    try:
        archive = np.load(p, allow_pickle=False)
    except FileNotFoundError as exc:
        raise ValueError(f"npz file {p!r} does not exist") from exc
    except Exception as exc:
        raise ValueError(f"cannot read {p!r} as a .npz archive: {exc}") from exc
    with archive:
        if not hasattr(archive, "files"):
            raise ValueError(
                f"{p!r} is a single .npy array, not a .npz archive; save it with np.savez"
            )
        if key not in archive.files:
            raise ValueError(f"{p!r} has no array {key!r}; it holds {sorted(archive.files)}")

        def images(k):
            arr = archive[k]
            if arr.ndim == 4 and arr.shape[1] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
                arr = np.transpose(arr, (0, 2, 3, 1))  # channels first → last
            return to_unit_range(arr, f"{p}[{k!r}]")

        def labels(k, n):
            if k is None or k not in archive.files:
                return None
            return check_labels(archive[k], n, f"{p}[{k!r}]")

        x = images(key)
        lab = labels(label_key, x.shape[0])
        if val_key is not None:
            if val_key not in archive.files:
                raise ValueError(
                    f"{p!r} has no array {val_key!r}; it holds {sorted(archive.files)}"
                )
            vx = images(val_key)
            vl = labels(val_label_key, vx.shape[0])
            if (lab is None) != (vl is None):
                raise ValueError(
                    "labels must be given for both the training and the validation images"
                )
            return ImageDataset(x, vx, lab, vl, os.path.splitext(os.path.basename(p))[0])
    tx, vx, tl, vl = split(x, lab, val_fraction, seed)
    return ImageDataset(tx, vx, tl, vl, os.path.splitext(os.path.basename(p))[0])


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and NumPy arrays only (the CIFAR batches)."""

    _ALLOWED: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"),
            ("_codecs", "encode"),
            ("copy_reg", "_reconstructor"),
            ("copyreg", "_reconstructor"),
        }
    )

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _unpickle(data: bytes, where: str) -> dict:
    try:
        obj = _ArrayUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:
        raise ValueError(f"cannot read CIFAR batch {where!r}: {exc}") from exc
    if not isinstance(obj, dict):
        raise ValueError(f"CIFAR batch {where!r} is not a dictionary")
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in obj.items()}


def _cifar_files(path: str) -> dict[str, bytes]:
    """Name → bytes of the batch files, from a folder (or its ``cifar-*-py`` child) or a tarball."""
    if os.path.isfile(path):
        try:
            with tarfile.open(path) as tar:
                out = {}
                for m in tar.getmembers():
                    if m.isfile():
                        f = tar.extractfile(m)
                        if f is not None:
                            out[os.path.basename(m.name)] = f.read()
                return out
        except tarfile.TarError as exc:
            raise ValueError(
                f"{path!r} is neither a CIFAR folder nor a readable .tar.gz: {exc}"
            ) from exc
    if not os.path.isdir(path):
        raise ValueError(f"CIFAR path {path!r} does not exist")
    names = set(os.listdir(path))
    for child in ("cifar-10-batches-py", "cifar-100-python"):
        if child in names and os.path.isdir(os.path.join(path, child)):
            return _cifar_files(os.path.join(path, child))
    out = {}
    for n in names:
        full = os.path.join(path, n)
        if os.path.isfile(full) and (
            n.startswith("data_batch")
            or n in ("test_batch", "train", "test", "batches.meta", "meta")
        ):
            with open(full, "rb") as f:
                out[n] = f.read()
    return out


def load_cifar(
    path: str | os.PathLike, *, label_kind: str = "fine", limit: int | None = None
) -> ImageDataset:
    """CIFAR-10 or CIFAR-100 in the python-pickle layout, from the extracted folder
    (``cifar-10-batches-py`` / ``cifar-100-python`` or its parent) or the downloaded
    ``.tar.gz``. Training images come from ``data_batch_*`` (CIFAR-10) or ``train`` (CIFAR-100),
    validation from ``test_batch`` / ``test``. ``label_kind`` picks CIFAR-100's ``"fine"`` (100)
    or ``"coarse"`` (20) labels; ``limit`` keeps the first images of each split.

    The batches are pickles; they are read with an unpickler that only rebuilds NumPy arrays,
    so a tampered file cannot run code.
    """
    p = os.fspath(path)
    label_kind = lookup({"fine": "fine", "coarse": "coarse"}, label_kind, "CIFAR label kind")
    files = _cifar_files(p)
    train_names = sorted(n for n in files if n.startswith("data_batch"))
    if train_names:
        test_names, meta_name, label_key, names_key = (
            ["test_batch"],
            "batches.meta",
            "labels",
            "label_names",
        )
        kind = "cifar10"
    elif "train" in files:
        train_names, test_names, meta_name = ["train"], ["test"], "meta"
        label_key = f"{label_kind}_labels"
        names_key = f"{label_kind}_label_names"
        kind = "cifar100"
    else:
        raise ValueError(f"no CIFAR batches (data_batch_* or train) found at {p!r}")

    def read(names):
        xs, ys = [], []
        for n in names:
            if n not in files:
                raise ValueError(f"CIFAR batch {n!r} is missing at {p!r}")
            batch = _unpickle(files[n], n)
            if "data" not in batch or label_key not in batch:
                raise ValueError(f"CIFAR batch {n!r} lacks 'data' or {label_key!r}")
            data = np.asarray(batch["data"])
            if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
                raise ValueError(
                    f"CIFAR batch {n!r} data must be uint8 of shape (n, 3072), got "
                    f"{data.dtype} {data.shape}"
                )
            xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            ys.append(check_labels(np.asarray(batch[label_key]), data.shape[0], f"{n} labels"))
        x, y = np.concatenate(xs), np.concatenate(ys)
        if limit is not None:
            k = check_int(limit, "limit", 1, 10_000_000)
            x, y = x[:k], y[:k]
        return to_unit_range(x, "CIFAR images"), y

    tx, tl = read(train_names)
    vx, vl = (
        read(test_names)
        if all(n in files for n in test_names)
        else (np.zeros((0, 32, 32, 3), np.float32), np.zeros(0, np.int32))
    )
    class_names = None
    if meta_name in files:
        meta = _unpickle(files[meta_name], meta_name)
        if names_key in meta:
            class_names = tuple(
                n.decode() if isinstance(n, bytes) else str(n) for n in meta[names_key]
            )
    return ImageDataset(tx, vx, tl, vl, kind, class_names)


# --- built-in sets ---------------------------------------------------------------------------


def digits(
    size: int = 8, *, mode: str = "pad", val_fraction: float = 0.2, seed: int = 0
) -> ImageDataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, labels 0–9), one channel.

    ``size > 8`` either pads the 8×8 digit into the middle of a black canvas (``mode="pad"``)
    or resizes it (``mode="resize"``); 16 or 32 make them fit a U-Net with more levels.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - sklearn is a test dependency
        raise ValueError(
            "the digits data set needs scikit-learn (pip install scikit-learn)"
        ) from exc
    size = check_int(size, "size", 8, 512)
    mode = lookup({"pad": "pad", "resize": "resize"}, mode, "digits mode")
    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None] * 2.0 - 1.0
    if size > 8:
        if mode == "pad":
            lo = (size - 8) // 2
            canvas = np.full((x.shape[0], size, size, 1), -1.0, np.float32)
            canvas[:, lo : lo + 8, lo : lo + 8] = x
            x = canvas
        else:
            x = resize_images(x, size)
    y = bunch.target.astype(np.int32)
    tx, vx, tl, vl = split(x, y, val_fraction, seed)
    return ImageDataset(
        tx, vx, tl, vl, f"digits{size}" if size != 8 else "digits", tuple(str(i) for i in range(10))
    )


SHAPES = ("disc", "square", "triangle", "ring")
TEXTURES = ("horizontal", "diagonal", "vertical", "checker")


def _shapes(rng: np.random.Generator, n: int, size: int, channels: int):
    """Anti-aliased discs, squares, triangles and rings of random size, position and colour on a
    random background. Label = shape index."""
    labels = rng.integers(0, len(SHAPES), n).astype(np.int32)
    radius = rng.uniform(0.3, 0.6, n)
    cx = rng.uniform(-1, 1, n) * (0.95 - radius)
    cy = rng.uniform(-1, 1, n) * (0.95 - radius)
    angle = rng.uniform(0, 2 * np.pi, n)
    fg = rng.uniform(-1, 1, (n, channels))
    bg = rng.uniform(-1, 1, (n, channels))
    # Make sure shape and background differ visibly.
    fg = np.where(np.abs(fg - bg) < 0.5, -np.sign(bg + 1e-6) * 0.8, fg)
    coords = (np.arange(size) + 0.5) / size * 2 - 1
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    dx = xx[None] - cx[:, None, None]
    dy = yy[None] - cy[:, None, None]
    c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy
    r = radius[:, None, None]
    dist = np.hypot(dx, dy)
    sdf = np.empty((n, size, size))
    m = labels == 0
    sdf[m] = (dist - r)[m]
    m = labels == 1
    sdf[m] = (np.maximum(np.abs(u), np.abs(v)) - 0.8 * r)[m]
    m = labels == 2
    # Equilateral triangle: max over three half-plane distances.
    k = [
        (np.cos(a) * u + np.sin(a) * v)
        for a in (np.pi / 2, np.pi / 2 + 2 * np.pi / 3, np.pi / 2 + 4 * np.pi / 3)
    ]
    sdf[m] = (np.maximum(np.maximum(k[0], k[1]), k[2]) - 0.5 * r)[m]
    m = labels == 3
    sdf[m] = (np.abs(dist - 0.75 * r) - 0.25 * r)[m]
    alpha = np.clip(0.5 - sdf * size / 2, 0.0, 1.0)[..., None]
    x = alpha * fg[:, None, None, :] + (1 - alpha) * bg[:, None, None, :]
    return x.astype(np.float32), labels


def _textures(rng: np.random.Generator, n: int, size: int, channels: int):
    """Gratings (horizontal, diagonal, vertical) and checkerboards with random frequency, phase
    and colours. Label = texture index."""
    labels = rng.integers(0, len(TEXTURES), n).astype(np.int32)
    freq = rng.uniform(1.5, max(2.0, size / 4), n)[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 2))
    coords = np.arange(size) / size
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    jitter = rng.uniform(-0.2, 0.2, n)[:, None, None]
    theta = np.array([0.0, np.pi / 4, np.pi / 2, 0.0])[labels][:, None, None] + jitter
    proj = np.cos(theta) * yy[None] + np.sin(theta) * xx[None]
    wave = np.sin(2 * np.pi * freq * proj + phase[:, :1, None])
    checker = np.sin(2 * np.pi * freq * yy[None] + phase[:, :1, None]) * np.sin(
        2 * np.pi * freq * xx[None] + phase[:, 1:, None]
    )
    pattern = np.where(
        (labels == 3)[:, None, None], np.sign(checker) * np.abs(checker) ** 0.5, wave
    )
    a = rng.uniform(-1, 1, (n, channels))
    b = rng.uniform(-1, 1, (n, channels))
    t = (pattern[..., None] + 1) / 2
    x = t * a[:, None, None, :] + (1 - t) * b[:, None, None, :]
    return np.clip(x, -1, 1).astype(np.float32), labels


PROCEDURAL_KINDS: dict[str, Callable] = {"shapes": _shapes, "textures": _textures}


def procedural(
    n: int = 2000,
    size: int = 32,
    channels: int = 3,
    kind: str = "shapes",
    seed: int = 0,
    *,
    val_fraction: float = 0.2,
) -> ImageDataset:
    """``n`` procedural images (training + validation), deterministic from ``seed``.

    ``kind="shapes"``: a disc, square, triangle or ring (the label) of random size, position,
    rotation and colour on a random background, anti-aliased at any ``size``.
    ``kind="textures"``: horizontal, diagonal or vertical gratings or a checkerboard (the label)
    with random frequency, phase and colours.
    """
    n = check_int(n, "n", 2, 1_000_000)
    size = check_int(size, "size", 4, 1024)
    channels = check_int(channels, "channels", 1, 4)
    if n * size * size * channels > 1 << 31:
        raise ValueError(
            f"{n} images of {size}×{size}×{channels} are too many to hold in memory at once"
        )
    make = lookup(PROCEDURAL_KINDS, kind, "procedural kind")
    rng = np.random.default_rng(check_int(seed, "seed", 0, 2**63 - 1))
    # Generate in blocks so memory stays bounded for large n.
    xs, ys = [], []
    for start in range(0, n, 4096):
        x, y = make(rng, min(4096, n - start), size, channels)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    tx, vx, tl, vl = split(x, y, val_fraction, seed)
    names = SHAPES if kind == "shapes" else TEXTURES
    return ImageDataset(tx, vx, tl, vl, f"{kind}{size}", names)


#: Built-in image sets that need no network or files (name → factory taking keyword overrides).
IMAGE_DATASETS: Registry[Callable[..., ImageDataset]] = Registry(
    "image data set",
    {
        "digits": lambda **kw: digits(**{"size": 8, **kw}),
        "digits16": lambda **kw: digits(**{"size": 16, **kw}),
        "digits32": lambda **kw: digits(**{"size": 32, **kw}),
        "shapes": lambda **kw: procedural(**{"kind": "shapes", **kw}),
        "textures": lambda **kw: procedural(**{"kind": "textures", **kw}),
    },
)


def load_image_dataset(name: str, **kwargs) -> ImageDataset:
    """A built-in set by name (see :data:`IMAGE_DATASETS`); unknown names list the valid ones."""
    return IMAGE_DATASETS[name](**kwargs)
