"""The seed documents' networks, written once and built with either library (``L`` = torch or
minitorch), so the same architecture can be trained side by side.

* ``SimpleCNN`` — seed 000_62194a4177624fc2.txt: conv(3→32, 3x3, pad 1) → ReLU → 2x2 max-pool →
  Linear(32·16·16 → 10), for 3x32x32 images.
* ``Net`` — seed 001_90500af70a636f6d.txt, the CIFAR net: three conv(3x3, pad 1)+ReLU+pool blocks
  (3→32→64→128), Linear(128·4·4 → 1024) → ReLU → Dropout(0.5) → Linear(1024 → 512) → ReLU →
  Linear(512 → 10). (The seed's program uses ``F.relu`` without importing
  ``torch.nn.functional as F``; here it is imported.)

``dropout_mask``: when given, the Net's dropout multiplies by this fixed mask (already scaled by
1/(1-p)) instead of drawing one, so both libraries drop the same units — their random streams differ.
"""


def simple_cnn(L):
    nn = L.nn

    class SimpleCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, kernel_size=3, stride=1, padding=1)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.fc = nn.Linear(32 * 16 * 16, 10)

        def forward(self, x):
            x = self.pool(self.relu(self.conv1(x)))
            x = x.view(-1, 32 * 16 * 16)
            return self.fc(x)

    return SimpleCNN()


def cifar_net(L):
    nn, F = L.nn, L.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
            self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
            self.conv3 = nn.Conv2d(64, 128, 3, padding=1)
            self.fc1 = nn.Linear(128 * 4 * 4, 1024)
            self.fc2 = nn.Linear(1024, 512)
            self.fc3 = nn.Linear(512, 10)
            self.pool = nn.MaxPool2d(2, 2)
            self.dropout = nn.Dropout(0.5)
            self.dropout_mask = None

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = self.pool(F.relu(self.conv3(x)))
            x = x.view(-1, 128 * 4 * 4)
            x = F.relu(self.fc1(x))
            x = self.dropout(x) if self.dropout_mask is None else x * self.dropout_mask
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()
