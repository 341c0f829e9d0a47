"""The steering actor's view of a camera: a frozen image embedding (ImageEncoder: a DINOv2-class module from
a user path, or the pooled image) appended to the RL observation. Images arrive with their stamps; a
decision's observation takes the image nearest its stamp (within `slop`), and each image is encoded once,
however many transitions read it (a chunk's end observation is the next decision's start)."""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from tmrl_learning.system.images import ImageEncoder


class ImageFeatures:
    def __init__(self, encoder: ImageEncoder, slop: float = 0.05, keep: int = 32):
        self.encoder, self.slop = encoder, slop
        self.dim = encoder.features
        self.images: deque[tuple[float, np.ndarray]] = deque(maxlen=keep)
        self.encoded: OrderedDict[float, np.ndarray] = OrderedDict()
        self.keep = keep

    def add(self, stamp: float, image: np.ndarray) -> None:
        self.images.append((float(stamp), image))

    def at(self, stamp: float) -> np.ndarray | None:
        """The embedding of the image nearest `stamp`; None while none lies within the slop."""
        if not self.images:
            return None
        taken, image = min(self.images, key=lambda item: abs(item[0] - stamp))
        if abs(taken - stamp) > self.slop:
            return None
        if taken not in self.encoded:
            self.encoded[taken] = self.encoder.encode(image)
            while len(self.encoded) > self.keep:
                self.encoded.popitem(last=False)
        return self.encoded[taken]

    def observation(self, observation: np.ndarray, stamp: float) -> np.ndarray | None:
        """The RL observation followed by the embedding of the image taken with it (None: no image yet)."""
        features = self.at(stamp)
        return None if features is None else np.concatenate([np.asarray(observation, np.float32), features])
