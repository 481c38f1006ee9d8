"""Seed 003's ImageNet-style ``SimpleCNN`` (003_ca87c39667931fed.txt), corrected and shrunk to fit.

    python examples/imagenet_cnn.py [--epochs 3] [--image-size 16] [--quick]

What it teaches: the ImageNet recipe of the document at a size a CPU trains in seconds — a
``transforms.Compose`` pipeline (``Resize``, ImageNet's per-channel ``Normalize``), two conv +
ReLU + max-pool stages, a fully connected classifier with dropout, Adam, ``model.train()`` /
``model.eval()``, and putting the model and each batch on one device. It also shows how the size
of the first ``Linear`` follows from the image size: every 2x2 pool halves the side, so after two
pools an S x S image leaves 128 x S/4 x S/4 features. The code is the document's, corrected, with
the import lines swapped (``import minitorch as torch``, ...): the same text runs under torch.

What was corrected (docs/errata.md, E15, E16):

* The document's network (L514–530)::

      self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
      self.conv2 = nn.Conv2d(64, 128, 3, padding=1)
      self.fc1 = nn.Linear(128 * 56 * 56, 1024)
      ...
      x = self.relu(self.conv1(x))
      x = self.relu(self.conv2(x))
      x = x.view(x.size(0), -1)

  Padded 3x3 convolutions keep 224x224 and nothing pools, so ``x.view(x.size(0), -1)`` has
  128·224·224 = 6,422,528 features while ``fc1`` expects 128·56·56 = 401,408: the first forward
  fails. The numbers imply two 2x2 max-pools (224 → 112 → 56); they are added,
  ``self.pool = nn.MaxPool2d(2, 2)`` after each conv + ReLU.
* ``inputs, labels = inputs.to('cuda'), labels.to('cuda')`` while ``model = SimpleCNN()`` is never
  moved: the parameters stay on the CPU and the first convolution mixes devices. Now
  ``device = "cuda" if torch.cuda.is_available() else "cpu"``, ``model = SimpleCNN(...).to(device)``
  and the batches go to the same ``device`` (so the program also runs without a GPU).
* Size: 224x224 ImageNet images and ``fc1 = nn.Linear(128 * 56 * 56, 1024)`` (411 million
  weights) cannot train on a CPU in a minute, and there is no ImageNet here. ``image_size`` and
  ``num_classes`` are arguments: ``SimpleCNN()`` with the defaults (224, 1000) is the document's
  network with the pools added; this program uses ``SimpleCNN(image_size=16, num_classes=10)``
  on the embedded 8x8 digits, ``Resize``d to 16x16 with their grey channel repeated three times,
  normalised with the document's ImageNet mean and std (``--image-size`` picks another size).

Kept as printed: ``nn.ReLU(inplace=True)``, dropout straight after ``fc1`` with no activation
between ``fc1`` and ``fc2`` (a design choice, not a bug), ``nn.CrossEntropyLoss()``,
``optim.Adam(model.parameters(), lr=0.001)``, the training and test loops. Ten epochs become three
(about 96% on the held-out digits).
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


class SimpleCNN(nn.Module):
    def __init__(self, image_size=224, num_classes=1000):
        super(SimpleCNN, self).__init__()
        side = image_size // 2 // 2                             # two 2x2 pools: 224 -> 112 -> 56
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
        self.conv2 = nn.Conv2d(64, 128, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)                          # was missing
        self.fc1 = nn.Linear(128 * side * side, 1024)           # 128 * 56 * 56 for 224x224
        self.fc2 = nn.Linear(1024, num_classes)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))                 # was self.relu(self.conv1(x))
        x = self.pool(self.relu(self.conv2(x)))                 # was self.relu(self.conv2(x))
        x = x.view(x.size(0), -1)
        x = self.dropout(self.fc1(x))
        x = self.fc2(x)
        return x


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Seed 003's ImageNet-style CNN (corrected) on the "
                                            "embedded digits")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: 3 (1 with --quick)")
    p.add_argument("--image-size", type=int, default=16,
                   help="side the 8x8 digits are resized to (the document: 224)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="a tiny run for tests: 3 training batches per epoch, 64 test images")
    args = p.parse_args(argv)
    if args.image_size < 4:
        p.error(f"--image-size must be at least 4 (two 2x2 pools), got {args.image_size}")
    return args


def main(argv=None) -> float:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"

    # 数据预处理 (preprocessing), the document's pipeline; the digits are already tensors, so no
    # ToTensor, and they are grey, so the channel is repeated to make the 3 that Normalize expects
    transform = transforms.Compose([
        transforms.Resize((args.image_size, args.image_size)),
        transforms.Lambda(lambda x: x.expand(3, -1, -1)),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    train_dataset = datasets.Digits(train=True, transform=transform)   # 1,437 images
    test_dataset = datasets.Digits(train=False, transform=transform)   # 360 held-out images
    num_epochs = args.epochs if args.epochs is not None else (1 if args.quick else 3)
    if args.quick:
        train_dataset = Subset(train_dataset, range(3 * args.batch_size))
        test_dataset = Subset(test_dataset, range(64))
    train_loader = DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_dataset, batch_size=256, shuffle=False)

    model = SimpleCNN(image_size=args.image_size, num_classes=10).to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)

    for epoch in range(num_epochs):
        model.train()
        running_loss, start = 0.0, time.perf_counter()
        for inputs, labels in train_loader:
            inputs, labels = inputs.to(device), labels.to(device)

            # 前向传播 (forward)
            outputs = model(inputs)
            loss = criterion(outputs, labels)

            # 反向传播 (backward)
            optimizer.zero_grad()
            loss.backward()

            # 参数更新 (update)
            optimizer.step()

            running_loss += loss.item()

        epoch_loss = running_loss / len(train_loader)
        print(f"Epoch [{epoch + 1}/{num_epochs}], Loss: {epoch_loss:.4f} "
              f"({time.perf_counter() - start:.1f}s)")

    model.eval()
    with torch.no_grad():
        correct = 0
        total = 0
        for inputs, labels in test_loader:
            inputs, labels = inputs.to(device), labels.to(device)
            outputs = model(inputs)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = correct / total
    print(f"Test accuracy: {100 * accuracy:.1f}% ({correct}/{total} held-out digits)")
    return accuracy


if __name__ == "__main__":
    main()
