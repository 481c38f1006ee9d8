"""A torch program, written for minitorch's tests in the usual shape of an MNIST script: it imports
torch and torchvision and knows nothing of minitorch. ``tests/test_torch_programs.py`` runs it
unchanged with ``python -m minitorch run``.

    python mnist_cnn.py --data-root DATA --epochs 2 --save-model model.pt

It reads MNIST's IDX files from DATA/MNIST/raw/ (no download) and prints one line per test pass:
"epoch E: test loss L, accuracy C/N (P%)".
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torchvision import datasets, transforms


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=3),     # 28 -> 26
            nn.ReLU(),
            nn.Conv2d(8, 16, kernel_size=3),    # 26 -> 24
            nn.ReLU(),
            nn.MaxPool2d(2),                    # 24 -> 12
        )
        self.drop_features = nn.Dropout(0.2)
        self.hidden = nn.Linear(16 * 12 * 12, 64)
        self.drop_hidden = nn.Dropout(0.3)
        self.out = nn.Linear(64, 10)

    def forward(self, x):
        x = self.drop_features(self.features(x))
        x = torch.flatten(x, 1)
        x = self.drop_hidden(F.relu(self.hidden(x)))
        return F.log_softmax(self.out(x), dim=1)


def train_one_epoch(model, device, loader, optimizer, epoch, log_every):
    model.train()
    for step, (images, labels) in enumerate(loader):
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = F.nll_loss(model(images), labels)
        loss.backward()
        optimizer.step()
        if step % log_every == 0:
            print(f"epoch {epoch} [{step * len(images)}/{len(loader.dataset)}] "
                  f"train loss {loss.item():.4f}")


def evaluate(model, device, loader):
    model.eval()
    total_loss, correct = 0.0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            output = model(images)
            total_loss += F.nll_loss(output, labels, reduction="sum").item()
            guess = output.argmax(dim=1, keepdim=True)
            correct += guess.eq(labels.view_as(guess)).sum().item()
    n = len(loader.dataset)
    return total_loss / n, correct, n


def main():
    parser = argparse.ArgumentParser(description="a small CNN on MNIST")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--test-batch-size", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--gamma", type=float, default=0.7)
    parser.add_argument("--no-accel", action="store_true", help="stay on the CPU")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--save-model", default=None, help="write the state dict here")
    args = parser.parse_args()

    use_accel = not args.no_accel and torch.accelerator.is_available()
    torch.manual_seed(args.seed)
    device = torch.accelerator.current_accelerator() if use_accel else torch.device("cpu")
    print(f"device: {device}")

    preprocess = transforms.Compose([transforms.ToTensor(),
                                     transforms.Normalize((0.1307,), (0.3081,))])
    train_set = datasets.MNIST(args.data_root, train=True, download=False, transform=preprocess)
    test_set = datasets.MNIST(args.data_root, train=False, transform=preprocess)
    loader_kwargs = {"batch_size": args.batch_size, "shuffle": True}
    if use_accel:
        loader_kwargs.update({"pin_memory": True})
    train_loader = torch.utils.data.DataLoader(train_set, **loader_kwargs)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=args.test_batch_size)

    model = SmallConvNet().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    loss, correct, n = evaluate(model, device, test_loader)
    print(f"epoch 0: test loss {loss:.4f}, accuracy {correct}/{n} ({100.0 * correct / n:.1f}%)")
    for epoch in range(1, args.epochs + 1):
        train_one_epoch(model, device, train_loader, optimizer, epoch, args.log_interval)
        loss, correct, n = evaluate(model, device, test_loader)
        print(f"epoch {epoch}: test loss {loss:.4f}, accuracy {correct}/{n} "
              f"({100.0 * correct / n:.1f}%), lr {scheduler.get_last_lr()[0]:.2e}")
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), args.save_model)


if __name__ == "__main__":
    main()
