"""A torch program, written for minitorch's tests in the usual shape of a CIFAR-10 classifier
script: torchvision's CIFAR10 pickles loaded by two worker processes, a small CNN, SGD with
momentum, a checkpoint saved and loaded back, per-class accuracy, and a grid of test images
written with torchvision.utils. It imports torch and torchvision only;
``tests/test_torch_programs.py`` runs it on minitorch.

    python cifar10_cnn.py DATA_ROOT OUT_DIR [EPOCHS]

Prints "epoch E: mean train loss L" per epoch and "accuracy on N test images: P%" at the end.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision
import torchvision.transforms as transforms


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5)        # 32 -> 28, pooled to 14
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(8, 16, 5)       # 14 -> 10, pooled to 5
        self.fc1 = nn.Linear(16 * 5 * 5, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def main(root, out_dir, epochs):
    torch.manual_seed(0)
    device = (torch.accelerator.current_accelerator().type
              if torch.accelerator.is_available() else "cpu")
    to_input = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    train_set = torchvision.datasets.CIFAR10(root=root, train=True, download=False,
                                             transform=to_input)
    test_set = torchvision.datasets.CIFAR10(root=root, train=False, download=False,
                                            transform=to_input)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=16, shuffle=True,
                                               num_workers=2)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=50, shuffle=False,
                                              num_workers=2)
    classes = train_set.classes

    images, labels = next(iter(test_loader))
    torchvision.utils.save_image(images[:16] / 2 + 0.5, os.path.join(out_dir, "samples.png"),
                                 nrow=4)
    print("first labels:", " ".join(classes[labels[j]] for j in range(4)))

    net = Net().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    for epoch in range(epochs):
        running, batches = 0.0, 0
        for inputs, targets in train_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            optimizer.zero_grad()
            loss = criterion(net(inputs), targets)
            loss.backward()
            optimizer.step()
            running += loss.item()
            batches += 1
        print(f"epoch {epoch + 1}: mean train loss {running / batches:.3f}")

    path = os.path.join(out_dir, "cifar_net.pth")
    torch.save(net.state_dict(), path)
    net = Net().to(device)
    net.load_state_dict(torch.load(path, weights_only=True))

    correct, total = 0, 0
    per_class = {name: [0, 0] for name in classes}
    with torch.no_grad():
        for inputs, targets in test_loader:
            inputs, targets = inputs.to(device), targets.to(device)
            _, predicted = torch.max(net(inputs), 1)
            total += targets.size(0)
            correct += (predicted == targets).sum().item()
            for target, guess in zip(targets, predicted):
                per_class[classes[target]][0] += int(target == guess)
                per_class[classes[target]][1] += 1
    for name, (right, seen) in per_class.items():
        print(f"  {name:10s} {100 * right / max(seen, 1):5.1f}%")
    print(f"accuracy on {total} test images: {100 * correct / total:.1f}%")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
