"""Running a trained model: class probabilities for images, and accuracy on a test set.

Both go through :meth:`Predictor.logits`: the model file's transform (resize, normalise), then
the model in eval mode under ``no_grad``, in batches of 256 (the batch size training evaluated
its test set with, so ``evaluate`` repeats the training run's arithmetic). The class is the
argmax of the logits; the probabilities are their softmax.
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..creation import from_numpy

__all__ = ["Predictor", "evaluate_dataset"]

BATCH = 256


class Predictor:
    """``Predictor(model, info)``: a loaded model (``load_model``) ready to classify images."""

    def __init__(self, model, info, device: str = "cpu"):
        self.model, self.info, self.device = model.eval(), info, device

    def logits(self, pixels: np.ndarray) -> np.ndarray:
        """(N, C, H, W) float32 images in [0, 1] → (N, classes) logits."""
        x = self.info.transform(pixels)
        out = []
        with no_grad():
            for start in range(0, len(x), BATCH):
                batch = from_numpy(x[start:start + BATCH])
                if self.device != "cpu":
                    batch = batch.to(self.device)
                out.append(self.model(batch).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.info.classes)), np.float32)

    def predict(self, images, top_k: int = 1) -> list:
        """A dict per :class:`~minitorch.inference.inputs.InputImage`: ``input``, ``class``,
        ``index``, ``probability`` and ``top`` (the ``top_k`` most probable classes)."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        results = []
        # images of one size are transformed and run together
        by_size = {}
        for i, img in enumerate(images):
            by_size.setdefault(img.pixels.shape, []).append(i)
        logits = [None] * len(images)
        for indices in by_size.values():
            batch = np.stack([images[i].pixels for i in indices])
            for i, row in zip(indices, self.logits(batch)):
                logits[i] = row
        for img, row in zip(images, logits):
            probs = softmax(row)
            order = np.argsort(-probs, kind="stable")[:top_k]
            best = int(np.argmax(row))
            results.append({
                "input": img.name, "class": self.info.classes[best], "index": best,
                "probability": float(probs[best]),
                "top": [{"class": self.info.classes[k], "index": int(k),
                         "probability": float(probs[k])} for k in order]})
        return results


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def evaluate_dataset(predictor: Predictor, dataset: str, root) -> dict:
    """Accuracy of the model on ``dataset``'s test split (digits | mnist | cifar10), through the
    model file's transform. Returns preds, targets, accuracy and the class names."""
    from ..training.data import load_raw_test
    from .inputs import _channels_to
    pixels, targets, classes = load_raw_test(dataset, root)
    channels = predictor.info.channels
    if pixels.shape[1] != channels:
        pixels = np.stack([_channels_to(p, channels, dataset) for p in pixels])
    preds = predictor.logits(pixels).argmax(1)
    return {"preds": preds, "targets": targets, "accuracy": float(np.mean(preds == targets)),
            "classes": classes}
