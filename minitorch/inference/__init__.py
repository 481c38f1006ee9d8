"""``minitorch.inference``: use a trained model.

* :func:`save_model` / :func:`load_model` — a model file that describes itself: architecture and
  arguments, class names, input shape and the input transform it was trained with
  (``model_file.py``); ``python -m minitorch train --out DIR`` writes ``DIR/model.mt``.
* :class:`Predictor` — class probabilities for images; :func:`read_inputs` reads PNG/JPEG
  images, ``.npy`` arrays, IDX files and folders (``inputs.py``, ``predict.py``).
* ``python -m minitorch predict | evaluate | export`` (``commands.py``).
"""
from .model_file import FORMAT, InputTransform, ModelInfo, load_model, save_model
from .inputs import InputError, InputImage, read_inputs
from .predict import Predictor, evaluate_dataset

__all__ = ["save_model", "load_model", "ModelInfo", "InputTransform", "Predictor",
           "read_inputs", "InputImage", "InputError", "evaluate_dataset", "FORMAT"]
