"""minitorch.viz.draw_graph: the backward graph of a CNN's loss as Graphviz DOT."""
import os
import re
import stat
import sys

import numpy as np
import pytest
import torch
from seed_models import cifar_net

import minitorch
from minitorch.viz import draw_graph, render_dot


def parse_dot(source):
    """{node id: label} and [(from, to)] from draw_graph's output."""
    nodes = dict(re.findall(r'^\s+(\w+) \[label="((?:[^"\\]|\\.)*)"', source, re.M))
    edges = re.findall(r"^\s+(\w+) -> (\w+);", source, re.M)
    return {k: v.replace("\\n", "\n") for k, v in nodes.items()}, edges


@pytest.fixture(scope="module")
def cnn_loss():
    minitorch.manual_seed(0)
    model = cifar_net(minitorch).eval()                  # eval: no dropout node
    x = minitorch.randn(2, 3, 32, 32)
    loss = minitorch.nn.functional.cross_entropy(model(x), minitorch.tensor([1, 7]))
    return model, loss


def count_torch_leaves(t):
    """Leaves (AccumulateGrad) reachable in torch's graph, iteratively."""
    seen, stack, leaves = set(), [t.grad_fn], 0
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        leaves += type(fn).__name__ == "AccumulateGrad"
        stack.extend(f for f, _ in fn.next_functions)
    return leaves


def test_cnn_loss_graph_nodes_edges_labels(cnn_loss):
    model, loss = cnn_loss
    nodes, edges = parse_dot(draw_graph(loss, params=model.named_parameters()))
    ops = [v.split("\n")[0] for k, v in nodes.items() if v.split("\n")[0].endswith("Backward")]
    # conv-relu-pool ×3, flatten, (linear-relu) ×2, linear, cross_entropy (one Function for
    # class indices without weights; torch shows log_softmax and nll_loss there)
    assert sorted(ops) == sorted(["Conv2dBackward", "ReLUBackward", "MaxPool2dBackward"] * 3
                                 + ["ReshapeBackward"] + ["LinearBackward", "ReLUBackward"] * 2
                                 + ["LinearBackward", "CrossEntropyBackward"])
    leaves = {v.split("\n")[0]: v for v in nodes.values() if "requires_grad=True" in v}
    assert set(leaves) == {name for name, _ in model.named_parameters()}     # 12 parameters
    inputs = [v for v in nodes.values() if v.startswith("input ")]
    assert inputs == ["input (2,3,32,32)\nrequires_grad=False"]
    assert len(nodes) == 16 + 12 + 1
    # one edge per tensor input of every op: conv 3·3, relu 5, pool 3, reshape 1, linear 3·3,
    # cross_entropy 1 (its target is not a tensor input of the graph)
    assert len(edges) == 9 + 5 + 3 + 1 + 9 + 1
    assert all(a in nodes and b in nodes for a, b in edges)
    # labels: op, output shape, dtype
    label = {k: v for k, v in nodes.items()}
    conv1 = next(k for k, v in label.items() if v.startswith("conv1.weight"))
    conv1_op = [b for a, b in edges if a == conv1]
    assert len(conv1_op) == 1 and label[conv1_op[0]] == "Conv2dBackward\n(2,32,32,32) float32"
    assert label[conv1] == "conv1.weight\n(32,3,3,3) float32\nrequires_grad=True"
    root = [k for k in nodes if not any(a == k for a, _ in edges)]
    assert [label[k] for k in root] == ["CrossEntropyBackward\n() float32"]
    assert "MaxPool2dBackward\n(2,128,4,4) float32" in label.values()
    assert "ReshapeBackward\n(2,2048) float32" in label.values()


def test_leaf_count_matches_torch(cnn_loss):
    model, loss = cnn_loss
    torch.manual_seed(0)
    t_model = cifar_net(torch).eval()
    t_loss = torch.nn.functional.cross_entropy(t_model(torch.randn(2, 3, 32, 32)),
                                               torch.tensor([1, 7]))
    nodes, _ = parse_dot(draw_graph(loss))
    ours = sum("requires_grad=True" in v for v in nodes.values())
    assert ours == count_torch_leaves(t_loss) == 12


def test_grad_norms_after_backward():
    minitorch.manual_seed(1)
    model = cifar_net(minitorch).eval()
    loss = minitorch.nn.functional.cross_entropy(model(minitorch.randn(2, 3, 32, 32)),
                                                 minitorch.tensor([0, 3]))
    before, _ = parse_dot(draw_graph(loss, show_grad_norms=True, params=model.named_parameters()))
    assert sum(v.endswith("grad: None") for v in before.values()) == 12
    loss.backward(retain_graph=True)
    after, _ = parse_dot(draw_graph(loss, show_grad_norms=True, params=model.named_parameters()))
    for name, p in model.named_parameters():
        label = next(v for v in after.values() if v.startswith(name + "\n"))
        shown = float(label.rsplit("grad norm ", 1)[1])
        assert shown == pytest.approx(np.linalg.norm(p.grad.numpy().astype(np.float64)), rel=1e-3)


def test_dropout_in_training_mode_adds_a_node():
    minitorch.manual_seed(0)
    model = cifar_net(minitorch).train()
    loss = minitorch.nn.functional.cross_entropy(model(minitorch.randn(1, 3, 32, 32)),
                                                 minitorch.tensor([2]))
    nodes, _ = parse_dot(draw_graph(loss))
    assert sum(v.startswith("DropoutBackward\n(1,1024)") for v in nodes.values()) == 1


def test_deep_chain_is_drawn_iteratively():
    """10,000 ops: a recursive walk would hit Python's recursion limit."""
    x = minitorch.ones(3, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    nodes, edges = parse_dot(draw_graph(y.sum()))
    assert len(nodes) == 10_000 + 1 + 1 and len(edges) == 10_001


def test_shared_input_fans_out_and_dtype():
    a = minitorch.tensor([1.0, 2.0], dtype=minitorch.float64, requires_grad=True)
    out = (a * a + a.exp()).sum()
    nodes, edges = parse_dot(draw_graph(out, params={"a": a}))
    leaf = next(k for k, v in nodes.items() if v.startswith("a\n"))
    assert nodes[leaf] == "a\n(2,) float64\nrequires_grad=True"
    assert sum(1 for s, _ in edges if s == leaf) == 3          # a*a uses a twice, exp once
    assert "MulBackward\n(2,) float64" in nodes.values()


def test_errors():
    with pytest.raises(ValueError, match="does not require grad"):
        draw_graph(minitorch.ones(2))
    with pytest.raises(TypeError, match="Tensor"):
        draw_graph(np.ones(2))
    x = minitorch.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="format"):
        draw_graph(x * 2, format="jpeg")
    nodes, edges = parse_dot(draw_graph(x))                    # a leaf alone: one node
    assert list(nodes.values()) == ["leaf\n(2,) float32\nrequires_grad=True"] and edges == []


def _fake_dot(tmp_path, body):
    script = tmp_path / "dot"
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(tmp_path)


def test_render_runs_dot(tmp_path, monkeypatch):
    """format='svg' pipes the DOT text through `dot -Tsvg` (a stand-in `dot` here: CI has none)."""
    bindir = _fake_dot(tmp_path, "import sys\ndata = sys.stdin.read()\n"
                                 "sys.stdout.write(f'<svg>{sys.argv[1]} {len(data)}</svg>')\n")
    monkeypatch.setenv("PATH", bindir + os.pathsep + os.environ.get("PATH", ""))
    x = minitorch.ones(2, requires_grad=True)
    source = draw_graph((x * 3).sum())
    target = tmp_path / "g.svg"
    data = draw_graph((x * 3).sum(), format="svg", filename=str(target))
    assert data == f"<svg>-Tsvg {len(source.encode())}</svg>".encode()
    assert target.read_bytes() == data


def test_render_reports_dot_failure(tmp_path, monkeypatch):
    bindir = _fake_dot(tmp_path, "import sys\nsys.stderr.write('syntax error')\nsys.exit(1)\n")
    monkeypatch.setenv("PATH", bindir)
    with pytest.raises(RuntimeError, match="syntax error"):
        render_dot("digraph {", "png")


def test_render_without_graphviz_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))                  # no `dot` here
    monkeypatch.setitem(sys.modules, "graphviz", None)          # and no graphviz package
    x = minitorch.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="needs Graphviz.*apt install graphviz"):
        draw_graph(x * 2, format="png")


def test_render_falls_back_to_the_graphviz_package(tmp_path, monkeypatch):
    """No `dot` on PATH but the graphviz package importable: its Source(...).pipe(format) is used,
    and its failure (e.g. ExecutableNotFound) becomes a RuntimeError saying what is missing."""
    import types
    calls = []

    class Source:
        def __init__(self, source):
            calls.append(source)

        def pipe(self, format):
            if format == "pdf":
                raise OSError("failed to execute 'dot'")
            return b"<svg/>"

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=Source))
    x = minitorch.ones(2, requires_grad=True)
    assert draw_graph(x * 2, format="svg") == b"<svg/>"
    assert calls == [draw_graph(x * 2)]
    with pytest.raises(RuntimeError, match="graphviz package could not render.*failed to execute"):
        draw_graph(x * 2, format="pdf")
