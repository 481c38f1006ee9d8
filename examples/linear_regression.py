"""Linear regression, the "Hello PyTorch" program of seed 002_6a37a69a8fedb1e8.txt, on minitorch.

    python examples/linear_regression.py [--epochs 200] [--checkpoint model.mt] [--quick]

What it teaches: the four steps of every training loop — forward, loss, backward, update — with a
Module, a loss and an optimizer; then saving the learned parameters with ``torch.save`` and
loading them into a fresh model with ``torch.load`` + ``load_state_dict``, as the document does
(here ``torch`` is minitorch: ``minitorch.save``/``minitorch.load`` write and read a checkpoint
in minitorch's neutral format, see ``minitorch/serialization.py``). The reloaded model must give
exactly the predictions of the trained one; the program checks it and exits 1 if not.

What was corrected (docs/errata.md, E04): the document trains on

    inputs = torch.randn(100, 2)
    targets = torch.randn(100, 1)

— targets drawn independently of the inputs, pure noise: there is nothing to learn and the loss
cannot fall below the noise's variance (about 1). Here the targets come from a known line,
y = 2·x₀ − 3·x₁ + 0.5 plus a little noise, so you can watch the model recover those numbers.
The document also loads the weights back into the very model that was trained
(``model.load_state_dict(torch.load(...))``), which cannot show that anything was restored; here
they go into a new, differently initialised model.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch as torch  # the rest of the program reads like the torch original
import minitorch.nn as nn


class LinearRegression(nn.Module):
    def __init__(self, input_size, output_size):
        super().__init__()
        self.linear = nn.Linear(input_size, output_size)

    def forward(self, x):
        return self.linear(x)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--checkpoint", default=None,
                   help="where to save the state dict (default: a fresh temporary folder)")
    p.add_argument("--quick", action="store_true", help="a tiny run (20 epochs) for tests")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    epochs = min(args.epochs, 20) if args.quick else args.epochs
    torch.manual_seed(args.seed)
    model = LinearRegression(input_size=2, output_size=1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)

    true_w, true_b = torch.tensor([[2.0, -3.0]]), 0.5
    inputs = torch.randn(100, 2)
    targets = inputs @ true_w.T + true_b + 0.01 * torch.randn(100, 1)

    for epoch in range(epochs):
        outputs = model(inputs)             # forward
        loss = criterion(outputs, targets)  # loss
        optimizer.zero_grad()
        loss.backward()                     # backward: d loss / d parameters
        optimizer.step()                    # update: p ← p − lr · grad
        if (epoch + 1) % 20 == 0 or epoch + 1 == epochs:
            print(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.6f}")

    w = model.linear.weight.detach().numpy().ravel()
    b = model.linear.bias.item()
    print(f"learned w = [{w[0]:.3f}, {w[1]:.3f}], b = {b:.3f}   (true: [2, -3], 0.5)")

    # Save the parameters, then load them into a new model (with other random initial weights).
    with tempfile.TemporaryDirectory() as tmp:
        path = args.checkpoint or os.path.join(tmp, "linear_regression_model.mt")
        torch.save(model.state_dict(), path)
        print(f"saved the state dict to {path}" + ("" if args.checkpoint else " (removed at exit)"))
        restored = LinearRegression(input_size=2, output_size=1)
        new_inputs = torch.randn(5, 2)
        with torch.no_grad():
            fresh = restored(new_inputs).numpy().ravel().tolist()
        restored.load_state_dict(torch.load(path))

    print("a fresh model predicts:  " + ", ".join(f"{v:.6f}" for v in fresh)
          + "   (before load_state_dict)")
    with torch.no_grad():
        before = model(new_inputs).numpy().ravel().tolist()
        after = restored(new_inputs).numpy().ravel().tolist()
        line = (new_inputs @ true_w.T + true_b).numpy().ravel().tolist()
    print("trained model predicts:  " + ", ".join(f"{v:.6f}" for v in before))
    print("reloaded model predicts: " + ", ".join(f"{v:.6f}" for v in after))
    print("the true line gives:     " + ", ".join(f"{v:.6f}" for v in line))
    same = before == after
    print(f"reloaded predictions identical to the trained model's: {same}")
    if not same:
        raise SystemExit(1)
    return {"loss": loss.item(), "w": w.tolist(), "b": b, "predictions": before,
            "reloaded_predictions": after}


if __name__ == "__main__":
    main()
