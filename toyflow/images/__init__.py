"""Image experiments on the same core: a DDPM++ U-Net, image data, measurements, scaling.

The U-Net honours the denoiser contract ``D(x, sigma, labels=None)`` on ``(n, H, W, C)``
arrays and trains with :func:`toyflow.training.train` (``config=unet_config(...)``); importing
this package registers the ``"unet"`` architecture so saved models load back.

    >>> from toyflow.images import digits, unet_config
    >>> from toyflow.training import train
    >>> data = digits()                                          # 8×8 digits in [-1, 1]
    >>> cfg = unet_config("tiny", image_shape=data.event_shape)
    >>> result = train(data.train_x, config=cfg, steps=300, batch_size=64)   # doctest: +SKIP

Modules: :mod:`.unet` (the network, presets), :mod:`.data` (loaders and built-in sets),
:mod:`.measure` (image measurements and figures), :mod:`.parallel` (meshes, data-parallel and
model-axis training, multi-host). The image experiments (``image-gap`` and friends) live with
the others in :mod:`toyflow.experiments.images`; this package never imports them.
"""

from toyflow.images.data import (
    IMAGE_DATASETS,
    ImageDataset,
    digits,
    load_cifar,
    load_folder,
    load_image_dataset,
    load_npz,
    procedural,
)
from toyflow.images.unet import PRESETS, UNetConfig, UNetDenoiser, unet_config
from toyflow.training import register_architecture

register_architecture("unet", UNetConfig.from_dict)

__all__ = [
    "IMAGE_DATASETS",
    "PRESETS",
    "ImageDataset",
    "UNetConfig",
    "UNetDenoiser",
    "digits",
    "load_cifar",
    "load_folder",
    "load_image_dataset",
    "load_npz",
    "procedural",
    "unet_config",
]
