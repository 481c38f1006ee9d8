"""A torch program, written for minitorch's tests in the style of the "learning PyTorch with
examples" walk-through (its own data and steps): fit a cubic to samples of a rippled cubic,
first with bare tensors and hand-written gradient steps, then with nn.Sequential and an optimizer.
It imports torch only; ``tests/test_torch_programs.py`` runs it on minitorch (and on torch).

Prints "manual: loss L0 -> L1" and "module: loss L0 -> L1", then the fitted coefficients as
"coefficients a b c d" (y ~ a + b x + c x^2 + d x^3).
"""
import math
import sys

import torch

torch.manual_seed(0)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 800
dtype = torch.float32

# samples of y = 1 - 0.5 x + 0.2 x^3 plus a small ripple, on [-2, 2]
x = torch.linspace(-2, 2, 400, dtype=dtype)
y = 1 - 0.5 * x + 0.2 * x ** 3 + 0.05 * torch.cos(3 * x) + 0.02 * torch.sin(7 * x + 1)

# 1. bare tensors: the four coefficients are leaves that require gradients
a, b, c, d = (torch.randn((), dtype=dtype, requires_grad=True) for _ in range(4))
learning_rate = 2e-4
for step in range(steps):
    y_hat = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_hat - y).pow(2).sum()
    if step == 0:
        first = loss.item()
    loss.backward()
    with torch.no_grad():           # the update itself must not be recorded
        for coefficient in (a, b, c, d):
            coefficient -= learning_rate * coefficient.grad
            coefficient.grad = None
print(f"manual: loss {first:.4f} -> {loss.item():.4f}")

# 2. the same fit as a linear layer on the features (x, x^2, x^3)
powers = torch.tensor([1, 2, 3])
features = x.unsqueeze(-1).pow(powers)          # (400, 3)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
loss_fn = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.RMSprop(model.parameters(), lr=5e-3)
for step in range(steps):
    loss = loss_fn(model(features), y)
    if step == 0:
        first = loss.item()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"module: loss {first:.4f} -> {loss.item():.4f}")
layer = model[0]
coefficients = [layer.bias.item()] + [layer.weight[:, i].item() for i in range(3)]
print("coefficients " + " ".join(f"{v:.4f}" for v in coefficients))
print(f"manual coefficients {a.item():.4f} {b.item():.4f} {c.item():.4f} {d.item():.4f}")
assert not math.isnan(loss.item())
