"""The seed documents' programs run on minitorch with only their import lines changed.

``seed_programs/`` holds the code blocks of seeds 000 (SimpleCNN) and 001 (the CIFAR Net) exactly
as the documents print them, torch imports included. ``swap_imports`` rewrites the import lines and
nothing else; the same text then runs under torch and under minitorch.

Seed 001 calls ``F.relu`` without importing ``torch.nn.functional as F`` (an erratum: the program
as printed raises NameError under torch too), and leaves ``trainloader`` undefined; both runs get the
missing import line and a ``trainloader`` of fixed random batches.

Seed 000 has no dropout, so the two runs can be compared exactly: the minitorch run starts from the
torch run's initial weights (copied in when the loop first iterates the loader) and must end with the
same weights. Seed 001 has dropout, whose random masks differ between libraries; it must run its ten
epochs and reduce the loss on its fixed batches.
"""
import pathlib
import re

import numpy as np
import torch

import minitorch

HERE = pathlib.Path(__file__).parent / "seed_programs"

MINITORCH_IMPORTS = {
    "import torch": "import minitorch as torch",
    "import torch.nn as nn": "import minitorch.nn as nn",
    "import torch.optim as optim": "import minitorch.optim as optim",
    "from torch.utils.data import DataLoader": "from minitorch.utils.data import DataLoader",
    "from torchvision import datasets, transforms": "from minitorch.vision import datasets, transforms",
    "import torch.nn.functional as F": "import minitorch.nn.functional as F",
}


def swap_imports(source: str, library: str) -> str:
    """Rewrite only the lines that start with ``import``/``from`` for ``library``."""
    lines = source.splitlines()
    if "F." in source and not any("functional as F" in line for line in lines):
        lines.insert(0, "import torch.nn.functional as F")  # the import the document forgot
    out = []
    for line in lines:
        if re.match(r"^(import|from) ", line):
            if library == "minitorch":
                line = MINITORCH_IMPORTS[line.strip()]
            elif "torchvision" in line:
                continue  # torchvision is not installed beside the CPU torch; the program never uses it
        out.append(line)
    return "\n".join(out) + "\n"


class FixedLoader:
    """A ``trainloader`` of fixed random batches; on the first pass it can copy weights in."""

    def __init__(self, library, batches, on_first_iter=None):
        self.L, self.batches, self.on_first_iter, self.namespace = library, batches, on_first_iter, None

    def __iter__(self):
        if self.on_first_iter is not None:
            self.on_first_iter(self.namespace)
            self.on_first_iter = None
        for x, y in self.batches:
            yield self.L.from_numpy(x.copy()), self.L.from_numpy(y.copy())


def run_program(name, library, loader, extra=""):
    L = torch if library == "torch" else minitorch
    namespace = {"__name__": f"seed_{library}", "trainloader": loader}
    loader.namespace = namespace
    source = swap_imports((HERE / name).read_text(encoding="utf-8"), library) + extra
    exec(compile(source, f"{name} ({library})", "exec"), namespace)
    assert namespace["torch"] is L
    return namespace


def random_batches(n, batch, seed):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32),
             rng.integers(0, 10, batch).astype(np.int64)) for _ in range(n)]


TRAIN_LOOP = """
losses = []
for epoch in range(3):
    for inputs, labels in trainloader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
"""


def test_only_import_lines_change():
    for name in ("seed000_simple_cnn.py", "seed001_cifar_net.py"):
        original = (HERE / name).read_text(encoding="utf-8").splitlines()
        swapped = swap_imports("\n".join(original), "minitorch").splitlines()
        body = [line for line in swapped if not re.match(r"^(import|from) ", line)]
        assert body == [line for line in original if not re.match(r"^(import|from) ", line)]
        assert any("minitorch" in line for line in swapped)


def test_seed000_simple_cnn_runs_and_matches_torch():
    batches = random_batches(2, 4, seed=0)
    initial = {}  # the torch model's weights when its loop starts; the minitorch run starts there
    torch.manual_seed(0)
    t_loader = FixedLoader(torch, batches, on_first_iter=lambda ns: initial.update(
        {k: v.detach().numpy().copy() for k, v in ns["model"].state_dict().items()}))
    t_ns = run_program("seed000_simple_cnn.py", "torch", t_loader, TRAIN_LOOP)
    m_loader = FixedLoader(minitorch, batches,
                           on_first_iter=lambda ns: ns["model"].load_state_dict(initial))
    m_ns = run_program("seed000_simple_cnn.py", "minitorch", m_loader, TRAIN_LOOP)

    assert isinstance(m_ns["model"], minitorch.nn.Module)
    np.testing.assert_allclose(m_ns["losses"], t_ns["losses"], rtol=1e-4)
    t_params = dict(t_ns["model"].named_parameters())
    for name, p in m_ns["model"].named_parameters():
        np.testing.assert_allclose(p.detach().numpy(), t_params[name].detach().numpy(),
                                   rtol=1e-4, atol=1e-5, err_msg=name)


def test_seed001_cifar_net_runs_its_ten_epochs():
    minitorch.manual_seed(0)
    batches = random_batches(1, 8, seed=1)

    def eval_loss(ns):
        model, criterion = ns["model"], ns["criterion"]
        model.eval()
        with minitorch.no_grad():
            loss = np.mean([criterion(model(minitorch.from_numpy(x)), minitorch.from_numpy(y)).item()
                            for x, y in batches])
        model.train()
        return loss

    before = []
    loader = FixedLoader(minitorch, batches, on_first_iter=lambda ns: before.append(eval_loss(ns)))
    m_ns = run_program("seed001_cifar_net.py", "minitorch", loader)
    assert isinstance(m_ns["model"], minitorch.nn.Module) and m_ns["epoch"] == 9
    after = eval_loss(m_ns)
    # 10 Adam steps on 8 fixed images: the loss on them must fall well below where it started
    assert after < 0.8 * before[0], f"loss on the fixed batches: {before[0]:.3f} → {after:.3f}"
