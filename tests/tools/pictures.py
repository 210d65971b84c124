"""What every picture test checks of a PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np


def assert_picture(path: Path, min_w: int = 150, min_h: int = 150) -> np.ndarray:
    """The PNG exists, has a sensible size and is not blank."""
    assert path.is_file()
    image = matplotlib.image.imread(path)
    h, w = image.shape[:2]
    assert min_w <= w <= 6000 and min_h <= h <= 8000, (w, h)
    gray = image[..., :3].mean(axis=2)
    assert gray.std() > 0.02  # something was drawn
    assert (gray < 0.5).mean() > 0.001  # dark ink or text, not only pale frames
    return image
