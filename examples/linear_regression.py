"""Linear regression, the "Hello PyTorch" program of seed 002_6a37a69a8fedb1e8.txt, on minitorch.

What it teaches: the four steps of every training loop — forward, loss, backward, update — with a
Module, a loss and an optimizer, then saving and reloading the learned parameters.

What was corrected: the seed trains on `targets = torch.randn(100, 1)`, pure noise with no relation
to the inputs, so there is nothing to learn and the loss cannot fall below the noise's variance. Here
the targets come from a known line, y = 2·x₀ − 3·x₁ + 0.5 plus a little noise, so you can watch the
model recover those numbers.
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch as torch  # noqa: E402  (the rest of the program reads like the torch original)
import minitorch.nn as nn  # noqa: E402


class LinearRegression(nn.Module):
    def __init__(self, input_size, output_size):
        super().__init__()
        self.linear = nn.Linear(input_size, output_size)

    def forward(self, x):
        return self.linear(x)


def main(epochs: int = 200, quiet: bool = False):
    torch.manual_seed(0)
    model = LinearRegression(input_size=2, output_size=1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

    true_w, true_b = torch.tensor([[2.0, -3.0]]), 0.5
    inputs = torch.randn(100, 2)
    targets = inputs @ true_w.T + true_b + 0.01 * torch.randn(100, 1)

    for epoch in range(epochs):
        outputs = model(inputs)            # forward
        loss = criterion(outputs, targets)  # loss
        optimizer.zero_grad()
        loss.backward()                     # backward: d loss / d parameters
        optimizer.step()                    # update: p ← p − lr · grad
        if not quiet and (epoch + 1) % 20 == 0:
            print(f"Epoch [{epoch + 1}/{epochs}], Loss: {loss.item():.6f}")

    w = model.linear.weight.detach().numpy().ravel()
    b = model.linear.bias.item()
    print(f"learned w = [{w[0]:.3f}, {w[1]:.3f}], b = {b:.3f}   (true: [2, -3], 0.5)")

    # Save and reload the parameters (a state dict of NumPy arrays in an .npz file).
    path = os.path.join(tempfile.mkdtemp(), "linear_regression_model.npz")
    np.savez(path, **{k: v.numpy() for k, v in model.state_dict().items()})
    restored = LinearRegression(2, 1)
    restored.load_state_dict({k: v for k, v in np.load(path).items()})
    new_inputs = torch.randn(1, 2)
    with torch.no_grad():
        print(f"Predictions: {restored(new_inputs).item():.4f} "
              f"(true line gives {(new_inputs @ true_w.T).item() + true_b:.4f})")
    return loss.item(), w, b


if __name__ == "__main__":
    main()
