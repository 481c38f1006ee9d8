"""Seed 000's SimpleCNN (000_62194a4177624fc2.txt), trained and evaluated on the embedded digits.

    python examples/simple_cnn.py [--epochs 6] [--quick]

What it teaches: the smallest complete image classifier — one convolution, ReLU, one max-pool and
one fully connected layer — and the loop around it: a ``Dataset`` and a shuffling ``DataLoader``,
forward → ``CrossEntropyLoss`` → ``backward()`` → ``optimizer.step()`` per mini-batch, then
``model.eval()`` + ``no_grad()`` to measure accuracy on images the model never saw. The code is
the document's with only the import lines swapped (``import minitorch as torch``, ...): the same
text runs under torch.

What was corrected: nothing in the network. ``Linear(32 * 16 * 16, 10)`` is right for the
3x32x32 (CIFAR-sized) colour images it implies: the padded 3x3 convolution keeps 32x32 and the
2x2 pool halves it to 16x16. The document stops at ``# 训练模型...`` ("train the model..."), with
no data and no loop; those are added. Data: the embedded 8x8 handwritten digits, resized to 32x32
when loaded and their grey channel repeated three times, so the network runs unchanged. The loss
and optimizer are the document's, ``nn.CrossEntropyLoss()`` and ``optim.SGD(model.parameters(),
lr=0.01)``. Expect about 90% held-out accuracy after 6 epochs: a single convolution feeding one
linear layer is a weak classifier (``cifar_net.py`` and ``imagenet_cnn.py`` do better).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import minitorch as torch  # swap these imports for torch's and the code still runs
import minitorch.nn as nn
import minitorch.optim as optim
from minitorch.utils.data import DataLoader, Subset
from minitorch.vision import datasets, transforms


# 定义CNN模型 (define the CNN model) -- as the document writes it
class SimpleCNN(nn.Module):
    def __init__(self):
        super(SimpleCNN, self).__init__()
        self.conv1 = nn.Conv2d(3, 32, kernel_size=3, stride=1, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.fc = nn.Linear(32 * 16 * 16, 10)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = x.view(-1, 32 * 16 * 16)
        x = self.fc(x)
        return x


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Seed 000's SimpleCNN on the embedded digits")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: 6 (1 with --quick)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="a tiny run for tests: 3 training batches per epoch, 64 test images")
    return p.parse_args(argv)


def main(argv=None) -> float:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # 8x8 grey digits -> 32x32 (bilinear, when loading) -> 3 identical channels: 3x32x32 in [0, 1]
    to_rgb = transforms.Lambda(lambda x: x.expand(3, -1, -1))
    trainset = datasets.Digits(train=True, size=32, transform=to_rgb)   # 1,437 images
    testset = datasets.Digits(train=False, size=32, transform=to_rgb)   # 360 held-out images
    epochs = args.epochs if args.epochs is not None else (1 if args.quick else 6)
    if args.quick:
        trainset = Subset(trainset, range(3 * args.batch_size))
        testset = Subset(testset, range(64))
    trainloader = DataLoader(trainset, batch_size=args.batch_size, shuffle=True)
    testloader = DataLoader(testset, batch_size=256, shuffle=False)

    # 实例化模型、损失函数和优化器 (the model, the loss and the optimizer)
    model = SimpleCNN().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr)

    for epoch in range(epochs):
        model.train()
        running_loss, start = 0.0, time.perf_counter()
        for inputs, labels in trainloader:
            inputs, labels = inputs.to(device), labels.to(device)
            optimizer.zero_grad()
            outputs = model(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        print(f"Epoch [{epoch + 1}/{epochs}], Loss: {running_loss / len(trainloader):.4f} "
              f"({time.perf_counter() - start:.1f}s)")

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in testloader:
            inputs, labels = inputs.to(device), labels.to(device)
            _, predicted = torch.max(model(inputs), 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = correct / total
    print(f"Test accuracy: {100 * accuracy:.1f}% ({correct}/{total} held-out digits)")
    return accuracy


if __name__ == "__main__":
    main()
