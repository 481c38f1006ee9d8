"""A picture of the backward graph: ``draw_graph(tensor)`` returns it as Graphviz DOT text.

Like micrograd's ``draw_dot``, but for tensors. What backward will visit is the graph of
``grad_fn`` nodes (``autograd.py``): one node per recorded op, linked to the nodes of its inputs by
``next_functions``. ``draw_graph`` walks it from ``tensor.grad_fn`` (iteratively, with
``autograd.topological_order``: a 10,000-op chain draws as well as a 10-op one) and draws

* an **op node** per ``Function`` call: its name (``Conv2dBackward``, from the class of the
  ``grad_fn``), the shape and dtype of the tensor the op produced;
* a **leaf node** per tensor that requires grad (its ``AccumulateGrad`` node): its name when
  ``params`` gives one (``model.named_parameters()``), shape, dtype, ``requires_grad=True`` and,
  with ``show_grad_norms=True``, the 2-norm of its ``.grad`` (after a ``backward()``);
* a dashed **input node** per tensor argument that does not require grad (the images, say):
  backward sends it nothing, but it is part of the computation. The engine does not keep these
  tensors, only their shapes, so one tensor used by two ops appears twice.

Edges point the way data flows in forward: from an op's inputs to the op, ending at the root.

The DOT text needs nothing beyond Python. To get a picture, pass ``format='svg'`` (or 'png',
'pdf'): that runs Graphviz's ``dot`` program, or the ``graphviz`` Python package when it is
installed, and raises a clear error when neither is there. Or paste the text into any Graphviz
viewer.
"""
from __future__ import annotations

import numpy as np

from .autograd import AccumulateGrad, topological_order
from .backend.shapes import fmt_shape

__all__ = ["draw_graph", "render_dot"]

_FORMATS = ("svg", "png", "pdf")


def _quote(text: str) -> str:
    """A DOT string literal; newlines become DOT's ``\\n`` line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _grad_norm(t) -> str:
    if t.grad is None:
        return "grad: None"
    g = t.grad._data
    g = g if isinstance(g, np.ndarray) else g.get()  # a CuPy array comes to the host
    return f"grad norm {float(np.linalg.norm(g.astype(np.float64).ravel())):.4g}"


def draw_graph(tensor, show_grad_norms: bool = False, format: str | None = None,
               filename: str | None = None, params=None):
    """The backward graph of ``tensor`` (usually a loss) as Graphviz DOT text.

    tensor: a Tensor that requires grad (its ``grad_fn``, or itself when it is a leaf, is the root).
    show_grad_norms: label each leaf with ‖leaf.grad‖₂ (``grad: None`` before any backward).
    format: None → return the DOT text (str). 'svg', 'png' or 'pdf' → render it with Graphviz and
        return the image bytes (and write them to ``filename`` when given).
    params: names for the leaves — a dict {name: tensor} or an iterable of (name, tensor) pairs,
        e.g. ``model.named_parameters()``. Unnamed leaves are labelled ``leaf``.
    """
    from .tensor import Tensor  # the tensor layer sits above autograd; import on use
    if not isinstance(tensor, Tensor):
        raise TypeError(f"draw_graph: expected a Tensor, got {type(tensor).__name__}")
    if not tensor.requires_grad:
        raise ValueError(f"draw_graph: the tensor of shape {fmt_shape(tensor.shape)} does not "
                         f"require grad, so it has no backward graph to draw")
    if format is not None and format not in _FORMATS:
        raise ValueError(f"draw_graph: format must be None (DOT text) or one of {_FORMATS}, "
                         f"got {format!r}")
    names = {}
    if params is not None:
        items = params.items() if isinstance(params, dict) else params
        names = {id(t): name for name, t in items}

    root = tensor._graph_node()
    order = topological_order(root)            # root first; iterative, no recursion limit
    ids = {id(node): f"n{k}" for k, node in enumerate(order)}

    # the shape of what each op produced: recorded by Function.apply (output_meta); without it,
    # the shape a consumer recorded for that input, or the root tensor's own
    produced = {id(root): (tuple(tensor.shape), tensor.dtype.name)}
    for node in order:
        for (parent, _), shape in zip(node.next_functions, getattr(node, "input_shapes", ())):
            if parent is not None and shape is not None:
                produced.setdefault(id(parent), (tuple(shape), None))

    lines = ["digraph backward {",
             '  graph [rankdir=TB, fontname="Helvetica"];',
             '  node [fontname="Helvetica", fontsize=10];']
    edges = []
    n_inputs = 0
    for node in order:
        nid = ids[id(node)]
        if isinstance(node, AccumulateGrad):
            t = node.variable
            label = [names.get(id(t), "leaf"), f"{fmt_shape(t.shape)} {t.dtype.name}",
                     f"requires_grad={t.requires_grad}"]
            if show_grad_norms:
                label.append(_grad_norm(t))
            style = 'shape=box, style="rounded,filled", fillcolor="#cfe8ff"'
        else:
            meta = getattr(node, "output_meta", None)
            if meta is not None:
                shape, dt = meta[0], np.dtype(meta[1]).name
            else:
                shape, dt = produced.get(id(node), ((), None))
            label = [node.name(), fmt_shape(shape) + ("" if dt is None else f" {dt}")]
            fill = "#ffd7a8" if node is root else "#eeeeee"
            style = f'shape=box, style="filled", fillcolor="{fill}"'
            for (parent, _), shape_in in zip(node.next_functions, node.input_shapes):
                if parent is not None:
                    edges.append((ids[id(parent)], nid))
                elif shape_in is not None:  # a tensor input that does not require grad
                    cid = f"c{n_inputs}"
                    n_inputs += 1
                    text = f"input {fmt_shape(shape_in)}\nrequires_grad=False"
                    lines.append(f"  {cid} [label={_quote(text)}, shape=box, "
                                 f'style="dashed", color="#888888", fontcolor="#555555"];')
                    edges.append((cid, nid))
        if node is root and isinstance(node, AccumulateGrad):
            style = 'shape=box, style="rounded,filled", fillcolor="#ffd7a8"'
        lines.append(f"  {nid} [label={_quote(chr(10).join(label))}, {style}];")
    lines.extend(f"  {a} -> {b};" for a, b in edges)
    lines.append("}")
    source = "\n".join(lines) + "\n"
    if format is None:
        return source
    return render_dot(source, format, filename)


def render_dot(source: str, format: str = "svg", filename: str | None = None) -> bytes:
    """Render DOT text with Graphviz: the ``dot`` program if it is on PATH, else the ``graphviz``
    Python package (which also needs Graphviz installed). Returns the image bytes and writes them
    to ``filename`` when given."""
    if format not in _FORMATS:
        raise ValueError(f"render_dot: format must be one of {_FORMATS}, got {format!r}")
    import shutil
    import subprocess
    exe = shutil.which("dot")
    if exe is not None:
        done = subprocess.run([exe, f"-T{format}"], input=source.encode("utf-8"),
                              capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"render_dot: Graphviz's dot failed (exit {done.returncode}): "
                               f"{done.stderr.decode('utf-8', 'replace').strip()}")
        data = done.stdout
    else:
        try:
            import graphviz  # optional dependency
        except ImportError:
            raise RuntimeError(
                f"render_dot: rendering to {format!r} needs Graphviz: neither the `dot` program "
                f"is on PATH nor the `graphviz` Python package is installed (install Graphviz, "
                f"e.g. `apt install graphviz`, `brew install graphviz` or `conda install "
                f"graphviz`). draw_graph(tensor) without format returns the DOT text, which any "
                f"Graphviz viewer shows.") from None
        try:
            data = graphviz.Source(source).pipe(format=format)
        except Exception as e:  # graphviz.ExecutableNotFound and friends
            raise RuntimeError(f"render_dot: the graphviz package could not render "
                               f"({type(e).__name__}: {e}); is Graphviz's `dot` installed?") from e
    if filename is not None:
        with open(filename, "wb") as f:
            f.write(data)
    return data
