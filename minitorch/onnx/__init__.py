"""``minitorch.onnx``: export a model to ONNX, as ``torch.onnx.export``.

    import minitorch.onnx
    minitorch.onnx.export(model, example_input, "model.onnx", input_names=["input"],
                          output_names=["logits"], dynamic_axes={"input": {0: "batch"},
                                                                 "logits": {0: "batch"}})

The forward pass is traced in eval mode (``tracing.py``), each op converted to ONNX nodes with
the ``onnx`` package's helpers (``converters.py``), and the model checked with
``onnx.checker.check_model(full_check=True)`` (``export.py``). The onnx package is optional
(``pip install onnx onnxruntime``; in a checkout ``.venv/bin/pip install -e '.[onnx]'``): it is
imported only when ``export`` runs. docs/deploying.md walks through it.
"""
from .converters import UnsupportedOperatorError
from .export import DEFAULT_OPSET, export

__all__ = ["export", "UnsupportedOperatorError", "DEFAULT_OPSET"]
