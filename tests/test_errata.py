"""One test per erratum of the seed documents (``docs/errata.md``, same numbering E01–E32).

Each test computes the document's example with minitorch, shows that the document's value (or
program) is wrong and that the correct one holds, and checks minitorch against torch on it.
The seed documents live outside the repository (``../shared/seeds/``); the passages a test needs
are quoted in it (seed 001's program is read from ``tests/seed_programs/``), so the tests run
anywhere.
"""
import math
import pathlib

import numpy as np
import pytest
import torch
from torch_compare import assert_close, check

import minitorch

mnn = minitorch.nn
MF = minitorch.nn.functional
TF = torch.nn.functional


def both(fn, *arrays, dtype="float64"):
    """fn(L, *tensors) for L = minitorch and torch (no grad); returns the two results as NumPy."""
    out = []
    for L in (minitorch, torch):
        ts = [L.tensor(np.array(a, dtype=dtype)) if np.asarray(a).dtype.kind == "f"
              else L.tensor(np.array(a)) for a in arrays]
        r = fn(L, *ts)
        out.append(r.detach().numpy() if hasattr(r, "detach") else r)
    return out


# =============================================================================================
# Seed 000
# =============================================================================================
def test_e01_conv2d_is_cross_correlation_not_the_flipped_formula():
    """000 L31-33: S(i,j) = Σ_m Σ_n I(m,n) K(i−m, j−n) (a true convolution, kernel flipped).
    torch's conv2d — and ours — compute S(i,j) = Σ_m Σ_n I(i+m, j+n) K(m,n)."""
    rng = np.random.default_rng(1)
    img = rng.standard_normal((5, 6))
    ker = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])  # asymmetric: flipping changes it
    kh, kw = ker.shape
    # the document's formula, literally, over the full range of (i, j); keep the "valid" part
    full = np.zeros((img.shape[0] + kh - 1, img.shape[1] + kw - 1))
    for i in range(full.shape[0]):
        for j in range(full.shape[1]):
            for m in range(img.shape[0]):
                for n in range(img.shape[1]):
                    if 0 <= i - m < kh and 0 <= j - n < kw:
                        full[i, j] += img[m, n] * ker[i - m, j - n]
    document = full[kh - 1:img.shape[0], kw - 1:img.shape[1]]
    cross = np.array([[np.sum(img[i:i + kh, j:j + kw] * ker) for j in range(img.shape[1] - kw + 1)]
                      for i in range(img.shape[0] - kh + 1)])

    y, _ = check(lambda L, x, w: L.nn.functional.conv2d(x, w), img[None, None], ker[None, None])
    y = y.detach().numpy()[0, 0]
    np.testing.assert_allclose(y, cross, rtol=1e-12)
    assert not np.allclose(y, document)                 # the document's formula is another op
    flipped, _ = check(lambda L, x, w: L.nn.functional.conv2d(x, w), img[None, None],
                       ker[::-1, ::-1].copy()[None, None])
    np.testing.assert_allclose(flipped.detach().numpy()[0, 0], document, rtol=1e-12)


# =============================================================================================
# Seed 001
# =============================================================================================
# the program exactly as the document prints it (shared with tests/test_seed_programs.py)
SEED001_PROGRAM = (pathlib.Path(__file__).parent / "seed_programs" / "seed001_cifar_net.py").read_text(
    encoding="utf-8")


@pytest.mark.parametrize("L", [minitorch, torch], ids=["minitorch", "torch"])
def test_e02_seed001_program_lacks_F_and_trainloader(L):
    """001 L39-82: the program calls F.relu but imports only torch, torch.nn, torch.optim, ...;
    and it iterates over ``trainloader``, which it never defines."""
    body = "\n".join(line for line in SEED001_PROGRAM.splitlines()
                     if not line.startswith(("import ", "from ")))
    namespace = {"nn": L.nn, "torch": L, "optim": L.optim}   # what the document imports
    with pytest.raises(NameError, match="'trainloader'"):
        exec(body, namespace)                       # the class, the model, then the loop
    model = namespace["model"]
    x = L.zeros(2, 3, 32, 32)
    with pytest.raises(NameError, match="'F'"):
        model(x)
    namespace["F"] = L.nn.functional                # the fix: import torch.nn.functional as F
    assert tuple(model(x).shape) == (2, 10)


@pytest.mark.parametrize("L", [minitorch, torch], ids=["minitorch", "torch"])
def test_e03_module_train_only_sets_the_mode(L):
    """001 L21: "使用模型的 train 函数来开始训练" — ``model.train()`` trains nothing: it sets the
    training flag (Dropout/BatchNorm behaviour) and returns the module; parameters stay put."""
    model = L.nn.Sequential(L.nn.Linear(3, 2), L.nn.Dropout(0.5))
    model.eval()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    assert model.train() is model
    assert model.training and model[1].training
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), b)


# =============================================================================================
# Seed 002
# =============================================================================================
def _train_linear_regression(L, x, y, w0, b0, epochs=100, lr=0.01):
    """002 L147-180: Linear(2, 1), MSELoss, SGD(lr=0.01), 100 full-batch epochs. Returns losses."""
    model = L.nn.Linear(2, 1).double()
    with L.no_grad():
        model.weight.copy_(L.tensor(w0))
        model.bias.copy_(L.tensor(b0))
    criterion = L.nn.MSELoss()
    optimizer = L.optim.SGD(model.parameters(), lr=lr)
    inputs, targets = L.tensor(x), L.tensor(y)
    losses = []
    for _ in range(epochs):
        loss = criterion(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses)


def test_e04_seed002_trains_on_pure_noise():
    """002 L163-164: ``targets = torch.randn(100, 1)`` is drawn independently of the inputs: there
    is no house price to learn. The loss cannot go below var(targets)·(1 − R²) with R² ≈ 0."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 2))
    noise = rng.standard_normal((100, 1))
    w0, b0 = rng.uniform(-0.7, 0.7, (1, 2)), rng.uniform(-0.7, 0.7, (1,))
    m_losses = _train_linear_regression(minitorch, x, noise, w0, b0)
    t_losses = _train_linear_regression(torch, x, noise, w0, b0)
    np.testing.assert_allclose(m_losses, t_losses, rtol=1e-10)
    # the best any linear model can do on these targets (least squares with an intercept)
    design = np.hstack([x, np.ones((100, 1))])
    best = np.mean((design @ np.linalg.lstsq(design, noise, rcond=None)[0] - noise) ** 2)
    variance = np.mean((noise - noise.mean()) ** 2)
    assert best > 0.95 * variance                       # R² < 0.05: nothing to learn
    assert m_losses[-1] >= best
    # with targets that depend on the inputs, the same program does learn
    signal = x @ np.array([[2.0], [-3.0]]) + 1.0 + 0.1 * noise
    learned = _train_linear_regression(minitorch, x, signal, w0, b0)
    assert learned[-1] < 0.2 * learned[0]


# =============================================================================================
# Seed 003
# =============================================================================================
def test_e05_relu_is_rectified_not_leaky():
    """003 L230: "ReLU（归一化泄漏激活函数）". ReLU is the rectified linear unit (修正线性单元):
    max(0, x), slope 0 for x < 0 and no normalisation; the *leaky* ReLU is another function."""
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    relu, _ = check(lambda L, x: L.nn.functional.relu(x), x)
    leaky, _ = check(lambda L, x: L.nn.functional.leaky_relu(x, 0.01), x)
    np.testing.assert_array_equal(relu.detach().numpy(), [0.0, 0.0, 0.5, 2.0])
    np.testing.assert_allclose(leaky.detach().numpy(), [-0.02, -0.005, 0.5, 2.0])
    g = minitorch.tensor(x, requires_grad=True)
    MF.relu(g).sum().backward()
    np.testing.assert_array_equal(g.grad.numpy(), [0.0, 0.0, 1.0, 1.0])  # no leak below 0


def _one_step(L, opt_name, theta, scale, **kw):
    """The first update of ``opt_name`` on the loss scale · (c · θ), c = (1, 1e-3): Δθ."""
    p = L.nn.Parameter(L.tensor(theta.copy()))
    opt = getattr(L.optim, opt_name)([p], **kw)
    loss = scale * (p * L.tensor(np.array([1.0, 1e-3]))).sum()
    loss.backward()
    opt.step()
    return p.detach().numpy() - theta


def test_e06_adam_is_not_sgd_plus_momentum():
    """003 L118 and L250: "Adam优化器：结合了SGD和Momentum的优点". Adam = momentum (m) *and* a
    per-coordinate scale 1/√v̂ (RMSProp's idea): its first step is ≈ lr in every coordinate
    whatever the gradient's size; SGD with momentum steps lr·g."""
    theta = np.array([0.5, -0.5])
    steps = {}
    for L in (minitorch, torch):
        for scale in (1.0, 1000.0):
            adam = _one_step(L, "Adam", theta, scale, lr=0.1)
            sgdm = _one_step(L, "SGD", theta, scale, lr=0.1, momentum=0.9)
            steps[L.__name__, scale] = adam, sgdm
    for scale in (1.0, 1000.0):
        (ma, ms), (ta, ts) = steps["minitorch", scale], steps["torch", scale]
        np.testing.assert_allclose(ma, ta, rtol=1e-12)
        np.testing.assert_allclose(ms, ts, rtol=1e-12)
        np.testing.assert_allclose(ma, [-0.1, -0.1], rtol=1e-4)      # |Δθ| ≈ lr per coordinate
        np.testing.assert_allclose(ms, -0.1 * scale * np.array([1.0, 1e-3]), rtol=1e-12)
    # Adam ignores the scale of the loss; SGD with momentum does not
    np.testing.assert_allclose(steps["minitorch", 1000.0][0], steps["minitorch", 1.0][0], rtol=1e-4)


def _quadratic_grads(theta):
    """J(θ) = ½ Σ aᵢ θᵢ², a = (1000, 0.001): one steep and one flat direction. ∇J = a ⊙ θ."""
    return np.array([1000.0, 0.001]) * theta


def _adam_reference(theta, steps, lr=0.01, b1=0.9, b2=0.999, eps=1e-8):
    """Adam as Kingma & Ba (and torch's docs) state it."""
    m = v = 0.0
    out = []
    for t in range(1, steps + 1):
        g = _quadratic_grads(theta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        out.append(theta)
    return np.array(out)


def _adam_library(L, theta, steps, lr=0.01):
    p = L.nn.Parameter(L.tensor(theta.copy()))
    opt = L.optim.Adam([p], lr=lr)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * L.tensor(np.array([1000.0, 0.001])) * p * p).sum().backward()
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out)


def test_e07_seed003_adam_formula_is_wrong():
    """003 L251: θ_new = θ_old − α∇J + β₁ (1−β₂ᵗ)/(1−β₁ᵗ) (θ_old − θ_{t−1}) — no second moment,
    no per-coordinate scaling: its first step is plain gradient descent."""
    theta0 = np.array([1.0, 1.0])
    lr, b1, b2 = 0.01, 0.9, 0.999
    doc, prev, theta = [], theta0, theta0
    for t in range(1, 6):
        coefficient = b1 * (1 - b2 ** t) / (1 - b1 ** t)
        new = theta - lr * _quadratic_grads(theta) + coefficient * (theta - prev)
        prev, theta = theta, new
        doc.append(theta)
    doc = np.array(doc)
    reference = _adam_reference(theta0, 5, lr)
    mine, theirs = _adam_library(minitorch, theta0, 5, lr), _adam_library(torch, theta0, 5, lr)
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    np.testing.assert_allclose(mine, reference, rtol=1e-12)
    np.testing.assert_allclose(doc[0], theta0 - lr * _quadratic_grads(theta0))  # SGD's step
    assert abs(doc[0, 0] - theta0[0]) == pytest.approx(10.0)           # 1000× Adam's step
    np.testing.assert_allclose(mine[0] - theta0, [-lr, -lr], rtol=1e-4)  # Adam: lr per coordinate
    assert not np.allclose(doc, mine)


def test_e08_standardisation_example():
    """003 L332-333: x = [1, 2, 3, 4, 5], "均值为3，标准差为1" → [-2, -1, 0, 1, 2]. The standard
    deviation of x is √2 ≈ 1.414 (population, as BatchNorm and StandardScaler use) or
    √2.5 ≈ 1.581 (sample, torch.std's default), never 1; the result [-2..2] has std √2, not 1."""
    x = minitorch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=minitorch.float64)
    mean = x.mean()
    population_std = ((x - mean) ** 2).mean().sqrt()
    sample_std = (((x - mean) ** 2).sum() / 4).sqrt()
    tx = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    assert population_std.item() == pytest.approx(math.sqrt(2), rel=1e-15)
    assert population_std.item() == pytest.approx(tx.std(unbiased=False).item(), rel=1e-15)
    assert sample_std.item() == pytest.approx(tx.std().item(), rel=1e-15)
    assert sample_std.item() == pytest.approx(math.sqrt(2.5), rel=1e-15)
    correct = ((x - mean) / population_std).numpy()
    np.testing.assert_allclose(correct, np.array([-2, -1, 0, 1, 2]) / math.sqrt(2), rtol=1e-15)
    # batch_norm in training mode standardises with the population std (and a tiny eps)
    bn = MF.batch_norm(x.reshape(5, 1), None, None, training=True, eps=1e-12)
    tbn = TF.batch_norm(tx.reshape(5, 1), None, None, training=True, eps=1e-12)
    np.testing.assert_allclose(bn.numpy().ravel(), correct, rtol=1e-11)
    np.testing.assert_allclose(tbn.numpy().ravel(), bn.numpy().ravel(), rtol=1e-14)
    document = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    assert document.std() == pytest.approx(math.sqrt(2))                # not standardised
    assert np.allclose(np.asarray(correct).std(), 1.0)


def test_e09_random_crop_is_a_slice_not_an_index():
    """003 L341: crop(x, s, t) = x[random(0, w−s), random(0, h−t)] picks ONE pixel. A crop is the
    slice x[i:i+s, j:j+t] (rows first: an image is indexed (height, width))."""
    m, t = minitorch.arange(10000).reshape(100, 100), torch.arange(10000).reshape(100, 100)
    i, j = 25, 25                                        # the document's example offsets
    assert tuple(m[i, j].shape) == () == tuple(t[i, j].shape)        # the formula: a scalar
    crop_m, crop_t = m[i:i + 50, j:j + 50], t[i:i + 50, j:j + 50]
    assert tuple(crop_m.shape) == (50, 50)
    np.testing.assert_array_equal(crop_m.numpy(), crop_t.numpy())
    np.testing.assert_array_equal(crop_m.numpy(), m[25:75, 25:75].numpy())  # = the example


def test_e10_rotation_acts_on_pixel_coordinates():
    """003 L347-359: x' = R(θ)·x for a (100, 100) image — a 2×2 matrix cannot multiply a 100×100
    image. R rotates pixel *coordinates*: x'(p) = x(R(θ)⁻¹ (p − c) + c), then resampling."""
    R = np.array([[math.cos(math.pi / 4), -math.sin(math.pi / 4)],
                  [math.sin(math.pi / 4), math.cos(math.pi / 4)]])
    with pytest.raises(RuntimeError):
        minitorch.tensor(R) @ minitorch.zeros(100, 100, dtype=minitorch.float64)
    with pytest.raises(RuntimeError):
        torch.tensor(R) @ torch.zeros(100, 100, dtype=torch.float64)
    # a 90° rotation of a 5×5 image by inverse-mapping its coordinates (x right, y down)
    img = minitorch.arange(25, dtype=minitorch.float64).reshape(5, 5)
    rows, cols = np.meshgrid(np.arange(5.0), np.arange(5.0), indexing="ij")
    centred = minitorch.tensor(np.stack([cols.ravel() - 2, rows.ravel() - 2]))   # (2, 25): x, y
    theta = math.pi / 2
    r_inv = minitorch.tensor([[math.cos(theta), math.sin(theta)],
                              [-math.sin(theta), math.cos(theta)]], dtype=minitorch.float64)
    src = r_inv @ centred + 2                                                     # (2, 25)
    src_x, src_y = (src[0] + 0.5).long(), (src[1] + 0.5).long()
    rotated = img[src_y, src_x].reshape(5, 5)
    expected = torch.rot90(torch.arange(25, dtype=torch.float64).reshape(5, 5), -1, (0, 1))
    np.testing.assert_array_equal(rotated.numpy(), expected.numpy())


def test_e11_conv_example_sums_kernel_entries_at_every_position():
    """003 L369-374: f(x) = Σ_{i=1}^{k} wᵢ xᵢ + b, "k 表示卷积核数量", and an example whose sum
    runs to 3 but lists 9 terms. The sum is over the kH·kW = 9 kernel *entries* of one window,
    and it is evaluated at every position: a 28×28 image gives a 26×26 map."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 1, 28, 28))
    w = np.ones((1, 1, 3, 3))
    b = np.array([1.0])
    y, _ = check(lambda L, x, w, b: L.nn.functional.conv2d(x, w, b), x, w, b)
    y = y.detach().numpy()[0, 0]
    assert y.shape == (26, 26)
    assert y[0, 0] == pytest.approx(x[0, 0, :3, :3].sum() + 1, rel=1e-12)    # the 9 listed terms
    assert y[5, 7] == pytest.approx(x[0, 0, 5:8, 7:10].sum() + 1, rel=1e-12)
    three_terms = x[0, 0, 0, :3].sum() + 1                                    # Σ_{i=1}^{3}
    assert y[0, 0] != pytest.approx(three_terms)


SEVEN = [-1.0, -2.0, -3.0, 0.0, 1.0, 2.0, 3.0]


def test_e12_relu_example():
    """003 L381-383: ReLU([-1,-2,-3,0,1,2,3]) = [0,0,0,0,1,1,1] — that is a step function;
    ReLU keeps positive inputs: [0,0,0,0,1,2,3]."""
    mine, theirs = both(lambda L, x: L.nn.functional.relu(x), SEVEN)
    np.testing.assert_array_equal(mine, [0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(mine, theirs)
    assert not np.array_equal(mine, [0, 0, 0, 0, 1, 1, 1])


def test_e13_sigmoid_example():
    """003 L387-389: σ(x) = [0.268, 0.133, 0.05, 0.5, 0.731, 0.869, 0.953]. σ(−2) = 0.119 and
    σ(2) = 0.881 (the document's pair does not even satisfy σ(−x) = 1 − σ(x): 0.133 + 0.869 ≠ 1)."""
    document = np.array([0.268, 0.133, 0.05, 0.5, 0.731, 0.869, 0.953])
    mine, theirs = both(lambda L, x: L.sigmoid(x), SEVEN)
    np.testing.assert_allclose(mine, theirs, rtol=1e-15)
    np.testing.assert_allclose(mine, [0.2689, 0.1192, 0.0474, 0.5, 0.7311, 0.8808, 0.9526],
                               atol=5e-5)
    wrong = np.abs(mine - document) > 0.005
    np.testing.assert_array_equal(wrong, [False, True, False, False, False, True, False])
    np.testing.assert_allclose(mine[[0, 1, 2]] + mine[[4, 5, 6]], 1.0)  # σ(−x) = 1 − σ(x)
    assert document[1] + document[5] != pytest.approx(1.0, abs=1e-3)


def test_e14_tanh_example():
    """003 L391-395: tanh(x) = [-0.761, -0.670, -0.540, 0, 0.761, 0.670, 0.540]: tanh is
    increasing, so |tanh(3)| > |tanh(2)| > |tanh(1)|; tanh(±2) = ±0.964, tanh(±3) = ±0.995."""
    document = np.array([-0.761, -0.670, -0.540, 0.0, 0.761, 0.670, 0.540])
    mine, theirs = both(lambda L, x: L.tanh(x), SEVEN)
    np.testing.assert_allclose(mine, theirs, rtol=1e-15)
    np.testing.assert_allclose(mine, [-0.7616, -0.9640, -0.9951, 0, 0.7616, 0.9640, 0.9951],
                               atol=5e-5)
    assert np.all(np.diff(mine[3:]) > 0) and not np.all(np.diff(document[3:]) > 0)
    wrong = np.abs(mine - document) > 0.005
    np.testing.assert_array_equal(wrong, [False, True, True, False, False, True, True])


def test_e15_seed003_simplecnn_fc1_gets_128x224x224_features():
    """003 L514-530: two padded 3×3 convs keep 224×224, and nothing pools, so the flattened
    features number 128·224·224 = 6,422,528, not fc1's 128·56·56 = 401,408. Two 2×2 max-pools
    (224 → 112 → 56) make fc1 fit."""
    mt = minitorch
    mt.manual_seed(0)
    conv1, conv2 = mt.nn.Conv2d(3, 64, 3, padding=1), mt.nn.Conv2d(64, 128, 3, padding=1)
    x = mt.zeros(1, 3, 224, 224)
    with mt.no_grad():
        h = conv2(MF.relu(conv1(x)))
    assert tuple(h.shape) == (1, 128, 224, 224)
    flat = h.view(h.size(0), -1)
    assert flat.shape[1] == 128 * 224 * 224 == 6_422_528
    fc1_weight = mt.zeros(1, 128 * 56 * 56)     # fc1's input width (one output row is enough)
    with pytest.raises(RuntimeError, match="6422528.*401408|401408.*6422528"):
        MF.linear(flat, fc1_weight)
    with pytest.raises(RuntimeError):           # torch refuses the same shapes
        TF.linear(torch.zeros(1, 6_422_528), torch.zeros(1, 401_408))
    pooled = MF.max_pool2d(MF.max_pool2d(h, 2), 2)
    assert tuple(MF.linear(pooled.view(1, -1), fc1_weight).shape) == (1, 1)
    t_conv = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.Conv2d(64, 128, 3, padding=1))
    with torch.no_grad():
        assert tuple(t_conv(torch.zeros(1, 3, 224, 224)).shape) == tuple(h.shape)


@pytest.mark.parametrize("L", [minitorch, torch], ids=["minitorch", "torch"])
def test_e16_seed003_model_stays_on_the_cpu(L):
    """003 L532 and L557: the inputs go to 'cuda' but the model is never moved
    (``model.to('cuda')`` is missing): its parameters are on the CPU, and the first conv gets
    tensors on two devices (torch raises; so does minitorch, naming both devices)."""
    model = L.nn.Sequential(L.nn.Conv2d(3, 8, 3, padding=1), L.nn.ReLU())
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    if L.cuda.is_available():  # the mismatch itself needs a GPU to show
        with pytest.raises(RuntimeError):
            model(L.zeros(1, 3, 8, 8).to("cuda"))


def count_layers(model):
    """{layer class name: how many} over a model's submodules (the model itself excluded)."""
    kinds = [type(m).__name__ for m in model.modules()][1:]
    return {k: kinds.count(k) for k in set(kinds)}


def _seed003_simplecnn(L, fc1_in=128 * 56 * 56):
    """003 L514-530, with fc1's input width a parameter: 128·56·56·1024 weights (1.6 GB) are not
    needed to count layers."""
    nn = L.nn

    class SimpleCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, padding=1)
            self.conv2 = nn.Conv2d(64, 128, 3, padding=1)
            self.fc1 = nn.Linear(fc1_in, 1024)
            self.fc2 = nn.Linear(1024, 1000)
            self.relu = nn.ReLU(inplace=True)
            self.dropout = nn.Dropout(0.5)

    return SimpleCNN()


@pytest.mark.parametrize("L", [minitorch, torch], ids=["minitorch", "torch"])
def test_e17_seed003_simplecnn_has_two_fully_connected_layers(L):
    """003 L605: "包括两个卷积层、一个全连接层和两个ReLU激活函数" — the code has two Linear layers
    (fc1, fc2); the one ReLU module is applied twice."""
    counts = count_layers(_seed003_simplecnn(L, fc1_in=8))
    assert counts == {"Conv2d": 2, "Linear": 2, "ReLU": 1, "Dropout": 1}


def _sigmoid_mlp_first_grad(L, weights, x, cot):
    h = L.tensor(x)
    params = []
    for w in weights:
        p = L.tensor(w, requires_grad=True)
        params.append(p)
        h = L.sigmoid(h @ p.T)
    (h * L.tensor(cot)).sum().backward()
    return params[0].grad.detach().numpy()


def test_e18_deeper_sigmoid_networks_vanish_more():
    """003 L781: "使用更深的网络结构...有助于缓解梯度消失问题". Backprop multiplies one factor
    Wᵀ·σ'(z) per layer (σ' ≤ 1/4), so depth makes the first layer's gradient *smaller*."""
    rng = np.random.default_rng(0)
    width, bound = 16, 1 / math.sqrt(16)
    x = rng.standard_normal((4, width))
    cot = rng.standard_normal((4, width))
    norms = {}
    for depth in (2, 20):
        weights = [rng.uniform(-bound, bound, (width, width)) for _ in range(depth)]
        g_m = _sigmoid_mlp_first_grad(minitorch, weights, x, cot)
        g_t = _sigmoid_mlp_first_grad(torch, weights, x, cot)
        np.testing.assert_allclose(g_m, g_t, rtol=1e-10, atol=1e-10 * np.abs(g_t).max())
        norms[depth] = np.linalg.norm(g_m)
    assert norms[20] < 1e-6 * norms[2]


# =============================================================================================
# Seed 004
# =============================================================================================
def test_e19_sigma_as_a_linear_map_adds_nothing():
    """004 L177-180: y = f(σ(Wx + b)) with "σ为线性变换" (and f the activation), while L231 uses σ
    as the activation. A linear σ after Wx + b is again one affine map, W₂(W₁x + b₁) + b₂ =
    (W₂W₁)x + (W₂b₁ + b₂), so the model is simply y = f(Wx + b)."""
    rng = np.random.default_rng(4)
    w1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    w2, b2 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    x = rng.standard_normal((5, 4))
    for L in (minitorch, torch):
        F = L.nn.functional
        hidden = F.linear(L.tensor(x), L.tensor(w1), L.tensor(b1))
        twice = F.linear(hidden, L.tensor(w2), L.tensor(b2))
        once = F.linear(L.tensor(x), L.tensor(w2 @ w1), L.tensor(w2 @ b1 + b2))
        np.testing.assert_allclose(twice.numpy(), once.numpy(), rtol=1e-12)


def test_e20_seed004_adam_formula_is_wrong():
    """004 L189: θ_{t+1} = θ_t − α/(1−β₁) (∇J + β₂ (θ_t − θ_{t−1})/(1−β₂)) — no running averages,
    no division by √v̂, no bias correction: the first step is −10·α·g (β₁ = 0.9)."""
    theta0 = np.array([1.0, 1.0])
    lr, b1, b2 = 0.01, 0.9, 0.999
    prev, theta, doc = theta0, theta0, []
    for _ in range(5):
        new = theta - lr / (1 - b1) * (_quadratic_grads(theta) + b2 * (theta - prev) / (1 - b2))
        prev, theta = theta, new
        doc.append(theta)
    doc = np.array(doc)
    mine, theirs = _adam_library(minitorch, theta0, 5, lr), _adam_library(torch, theta0, 5, lr)
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)
    np.testing.assert_allclose(mine, _adam_reference(theta0, 5, lr), rtol=1e-12)
    np.testing.assert_allclose(doc[0] - theta0, -lr / (1 - b1) * _quadratic_grads(theta0))
    assert abs(doc[0, 0] - theta0[0]) == pytest.approx(100.0)            # 10⁴ × Adam's step
    assert not np.all(np.isfinite(doc)) or np.abs(doc).max() > 1e6       # and it blows up


def test_e21_mean_squared_error_is_a_mean():
    """004 L214-220 (and L284): "均方误差" J = ½ Σ (yᵢ − pᵢ)². That is half the *sum* of squared
    errors; the mean squared error (``nn.MSELoss``, which the seeds' programs use) is
    (1/n) Σ (yᵢ − pᵢ)², with gradient 2(pᵢ − yᵢ)/n. The document's derivative pᵢ − yᵢ belongs to
    its ½Σ form, not to MSE."""
    p, y = np.array([1.5, 2.0, 2.0]), np.array([1.0, 2.0, 3.0])
    out, _ = check(lambda L, p, y: L.nn.functional.mse_loss(p, y), p, y, grad=(True, False))
    assert out.item() == pytest.approx(np.mean((y - p) ** 2), rel=1e-15)     # 0.41667
    assert out.item() != pytest.approx(0.5 * np.sum((y - p) ** 2))           # 0.625
    q = minitorch.tensor(p, requires_grad=True)
    MF.mse_loss(q, minitorch.tensor(y)).backward()
    np.testing.assert_allclose(q.grad.numpy(), 2 * (p - y) / 3, rtol=1e-15)
    h = minitorch.tensor(p, requires_grad=True)
    (0.5 * ((minitorch.tensor(y) - h) ** 2).sum()).backward()
    np.testing.assert_allclose(h.grad.numpy(), p - y, rtol=1e-15)           # ½Σ's derivative


def test_e22_preactivation_sums_over_the_previous_layers_neurons():
    """004 L234: z_l⁽ⁱ⁾ = Σ_{j=0}^{l−1} w_{l,j} a_{l−1}⁽ʲ⁾ + b_l — the sum runs over *layer*
    indices 0..l−1 and the weights and bias lack the neuron index i. Correct:
    z_l⁽ⁱ⁾ = Σ_{j=1}^{n_{l−1}} w_l⁽ⁱʲ⁾ a_{l−1}⁽ʲ⁾ + b_l⁽ⁱ⁾, i.e. z_l = W_l a_{l−1} + b_l."""
    rng = np.random.default_rng(5)
    a0 = rng.standard_normal(4)                       # layer 0: 4 neurons
    w1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    l = 1
    document = np.array([sum(w1[0, j] * a0[j] for j in range(l)) + b1[0] for _ in range(3)])
    correct = np.array([sum(w1[i, j] * a0[j] for j in range(4)) + b1[i] for i in range(3)])
    z, _ = check(lambda L, a, w, b: L.nn.functional.linear(a, w, b), a0, w1, b1)
    np.testing.assert_allclose(z.detach().numpy(), correct, rtol=1e-12)
    assert not np.allclose(document, correct)
    assert np.all(document == document[0])            # every neuron of the layer would be equal


def test_e23_backprop_delta_uses_the_next_layers_weights():
    """004 L240: δ_l⁽ⁱ⁾ = δ_{l+1}⁽ⁱ⁾ · ∂L/∂a_{l+1}⁽ⁱ⁾ · σ'(z_l⁽ⁱ⁾). Correct:
    δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l): every neuron k of layer l+1 sends back
    w_{l+1}⁽ᵏⁱ⁾ δ_{l+1}⁽ᵏ⁾, and ∂L/∂a_{l+1} is already inside δ_{l+1}."""
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal(4), rng.standard_normal(3)
    w1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(3)
    w2, b2 = rng.standard_normal((3, 3)), rng.standard_normal(3)
    grads = {}
    for L in (minitorch, torch):
        F = L.nn.functional
        W2 = L.tensor(w2, requires_grad=True)
        z1 = F.linear(L.tensor(x), L.tensor(w1, requires_grad=True), L.tensor(b1))
        z1.retain_grad()
        a1 = L.sigmoid(z1)
        z2 = F.linear(a1, W2, L.tensor(b2))
        z2.retain_grad()
        a2 = L.sigmoid(z2)
        a2.retain_grad()
        (0.5 * ((a2 - L.tensor(y)) ** 2).sum()).backward()
        grads[L.__name__] = [t.grad.detach().numpy() for t in (z1, z2, a2)] + [z1.detach().numpy()]
    for m, t in zip(grads["minitorch"], grads["torch"]):
        np.testing.assert_allclose(m, t, rtol=1e-12)
    delta1, delta2, dl_da2, z1v = grads["minitorch"]
    s1 = 1 / (1 + np.exp(-z1v))
    dsigma1 = s1 * (1 - s1)
    np.testing.assert_allclose((w2.T @ delta2) * dsigma1, delta1, rtol=1e-12)   # correct
    document = delta2 * dl_da2 * dsigma1
    assert not np.allclose(document, delta1)


def test_e24_adam_second_moment_averages_the_squared_gradient():
    """004 L257: v_t = β₂ v_{t−1} + (1 − β₂) ∇²J(θ_t). ∇² is the second derivative (Laplacian /
    Hessian); Adam averages the elementwise *square of the gradient*, g ⊙ g."""
    a, theta = np.array([4.0, 0.5]), np.array([3.0, -2.0])
    g = a * theta                                     # J = ½ Σ aᵢ θᵢ²: ∇J = a⊙θ, ∇²J = diag(a)
    states = {}
    for L in (minitorch, torch):
        p = L.nn.Parameter(L.tensor(theta.copy()))
        opt = L.optim.Adam([p], lr=0.1, betas=(0.9, 0.999))
        (0.5 * L.tensor(a) * p * p).sum().backward()
        opt.step()
        states[L.__name__] = opt.state[p]["exp_avg_sq"].numpy()
    np.testing.assert_allclose(states["minitorch"], states["torch"], rtol=1e-15)
    np.testing.assert_allclose(states["minitorch"], (1 - 0.999) * g * g, rtol=1e-12)
    assert not np.allclose(states["minitorch"], (1 - 0.999) * a)          # the Hessian reading
    assert not np.allclose(states["minitorch"], (1 - 0.999) * a.sum())    # the Laplacian reading


def test_e25_adam_update_needs_eps():
    """004 L260: θ_{t+1} = θ_t − α m̂_t / √v̂_t has no ε. A coordinate whose gradients so far are
    all 0 (an unused unit, a dead ReLU) gets 0/0 = NaN. torch (and minitorch) divide by √v̂ + ε."""
    theta = np.array([1.0, 2.0])
    c = np.array([3.0, 0.0])                          # J = c·θ: the second gradient is exactly 0
    g = c
    m_hat, v_hat = g, g * g                           # after one step, bias-corrected
    with np.errstate(invalid="ignore", divide="ignore"):
        document = theta - 0.1 * m_hat / np.sqrt(v_hat)
    assert np.isnan(document[1])
    for L in (minitorch, torch):
        p = L.nn.Parameter(L.tensor(theta.copy()))
        opt = L.optim.Adam([p], lr=0.1)
        (L.tensor(c) * p).sum().backward()
        opt.step()
        new = p.detach().numpy()
        assert np.all(np.isfinite(new))
        assert new[1] == theta[1]
        assert new[0] == pytest.approx(theta[0] - 0.1, rel=1e-7)


def test_e26_cross_entropy_derivative():
    """004 L278: ∂J/∂pᵢ = 1/pᵢ − yᵢ for J = −Σ yᵢ log pᵢ. Correct: ∂J/∂pᵢ = −yᵢ/pᵢ; and through the
    softmax, with respect to the logits, ∂J/∂z = softmax(z) − onehot(y)."""
    p, y = np.array([0.7, 0.2, 0.1]), np.array([1.0, 0.0, 0.0])
    out, _ = check(lambda L, p, y: -(y * L.log(p)).sum(), p, y, grad=(True, False))
    q = minitorch.tensor(p, requires_grad=True)
    (-(minitorch.tensor(y) * q.log()).sum()).backward()
    np.testing.assert_allclose(q.grad.numpy(), -y / p, rtol=1e-15)        # [−1.4286, 0, 0]
    assert not np.allclose(q.grad.numpy(), 1 / p - y)                      # [0.4286, 5, 10]
    z = np.log(p) + 0.3                                # logits whose softmax is p
    target = np.array([0])
    check(lambda L, z, t: L.nn.functional.cross_entropy(z, t), z[None], target)
    zt = minitorch.tensor(z[None], requires_grad=True)
    MF.cross_entropy(zt, minitorch.tensor(target)).backward()
    np.testing.assert_allclose(zt.grad.numpy()[0], p - y, rtol=1e-12)     # softmax − onehot


def test_e27_bce_on_mnist_labels_fails():
    """004 L297 vs L339 and L358: the case promises 32×32 images with labels 0 or 1, loads MNIST
    (28×28, labels 0–9) and feeds those labels to nn.BCELoss, which needs float targets of the
    output's shape with values in [0, 1]."""
    outputs = np.full((4, 1), 0.5)
    labels = np.array([7, 2, 1, 0])                   # MNIST digits, int64, shape (N,)
    for L in (minitorch, torch):
        criterion = L.nn.BCELoss()
        with pytest.raises((ValueError, RuntimeError)):
            criterion(L.tensor(outputs), L.tensor(labels))
        with pytest.raises(RuntimeError):             # even reshaped to (N, 1) and made float
            criterion(L.tensor(outputs), L.tensor(labels[:, None].astype(np.float64)))
        binary = L.tensor((labels[:, None] == 1).astype(np.float64))
        assert criterion(L.tensor(outputs), binary).item() == pytest.approx(math.log(2))


SEED004_FORWARD = '''
def forward(self, x):
    x = self.pool(F.relu(self.conv1(x)))
    x = self.pool(F.relu(self.fc1(x)))
    x = self.sigmoid(self.fc2(x))
    return x
'''


def _seed004_cnn(L, with_F=True):
    """004 L429-442 (CNNModel of section 5.2), forward as written."""
    nn = L.nn

    class CNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1 = nn.Linear(32 * 8 * 8, 128)
            self.fc2 = nn.Linear(128, 10)
            self.sigmoid = nn.Sigmoid()

    namespace = {"F": L.nn.functional} if with_F else {}
    exec(SEED004_FORWARD, namespace)
    CNNModel.forward = namespace["forward"]
    return CNNModel()


@pytest.mark.parametrize("L", [minitorch, torch], ids=["minitorch", "torch"])
def test_e28_seed004_cnnmodel_shapes(L):
    """004 L312-321 / L432-442: conv(3×3, no padding) + 2×2 pool maps 28×28 to 13×13
    (32×32 to 15×15), so fc1 needs 32·13·13 = 5408 inputs, not 32·8·8 = 2048; there is no flatten
    before fc1, a pool is applied to fc1's output, and F is never imported."""
    L.manual_seed(0)
    with pytest.raises(NameError, match="'F'"):
        _seed004_cnn(L, with_F=False)(L.zeros(4, 1, 28, 28))
    model = _seed004_cnn(L)
    x = L.zeros(4, 1, 28, 28)
    assert tuple(model.pool(model.conv1(x)).shape) == (4, 32, 13, 13)
    assert tuple(model.pool(model.conv1(L.zeros(4, 1, 32, 32))).shape) == (4, 32, 15, 15)
    with pytest.raises(RuntimeError):
        model(x)                                     # fc1 gets (4, 32, 13, 13): last dim 13


def test_e28_corrected_cnnmodel_matches_torch():
    """The corrected 004 model: flatten, fc1 = Linear(32·13·13, 128), ReLU, fc2, raw logits."""
    def build(L):
        nn = L.nn
        return nn.Sequential(nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                             nn.Linear(32 * 13 * 13, 128), nn.ReLU(), nn.Linear(128, 10))
    torch.manual_seed(0)
    t_model = build(torch).double()
    m_model = build(minitorch).double()
    m_model.load_state_dict({k: v.detach().numpy() for k, v in t_model.state_dict().items()})
    x = np.random.default_rng(7).standard_normal((4, 1, 28, 28))
    t_out = t_model(torch.tensor(x))
    m_out = m_model(minitorch.tensor(x))
    assert tuple(m_out.shape) == (4, 10)
    assert_close(m_out, t_out, "float64")


@pytest.mark.parametrize("L", [minitorch, torch], ids=["minitorch", "torch"])
def test_e29_seed004_cnnmodel_layer_count(L):
    """004 L301: "包含两个卷积层、一个池化层和一个全连接层"; L514: "一个卷积层、一个池化层、一个全连接层
    和一个sigmoid". The code has one Conv2d, one MaxPool2d (applied twice), two Linear layers."""
    counts = count_layers(_seed004_cnn(L))
    assert counts == {"Conv2d": 1, "MaxPool2d": 1, "Linear": 2, "Sigmoid": 1}


def test_e30_accuracy_count_broadcasts_to_n_by_n():
    """004 L397-399: ``predicted = (outputs > 0.5)`` has shape (N, 1), labels (N,), so
    ``predicted == labels`` broadcasts to (N, N) and counts N² comparisons: a perfect classifier
    scores 200% here. Correct: ``(predicted.squeeze(1).long() == labels).sum()``."""
    outputs = np.array([[0.9], [0.1], [0.8], [0.2]])
    labels = np.array([1, 0, 1, 0])
    results = {}
    for L in (minitorch, torch):
        predicted = L.tensor(outputs) > 0.5
        lab = L.tensor(labels)
        assert tuple((predicted == lab).shape) == (4, 4)
        wrong = (predicted == lab).sum().item()
        right = (predicted.squeeze(1).long() == lab).sum().item()
        results[L.__name__] = (100 * wrong / lab.size(0), 100 * right / lab.size(0))
    assert results["minitorch"] == results["torch"] == (200.0, 100.0)


def test_e31_sigmoid_outputs_cannot_give_the_reported_losses():
    """004 L436-441, L460 and L576-590: the model ends in a sigmoid and nn.CrossEntropyLoss applies
    log_softmax on top. With 10 outputs in (0, 1) the loss is at least
    −log(e / (e + 9)) = log(1 + 9/e) ≈ 1.4612, so the printed losses 0.69 → 0.31 cannot come from
    this program (which, besides, does not run: E28). Correct: return the raw logits."""
    bound = math.log(1 + 9 / math.e)
    best = np.zeros((1, 10))
    best[0, 0] = 1.0                                  # the most confident sigmoid outputs
    out, _ = check(lambda L, z, t: L.nn.functional.cross_entropy(z, t), best, np.array([0]))
    assert out.item() == pytest.approx(bound, rel=1e-12)
    rng = np.random.default_rng(8)
    probs = 1 / (1 + np.exp(-rng.standard_normal((64, 10)) * 5))
    target = rng.integers(0, 10, 64)
    losses = MF.cross_entropy(minitorch.tensor(probs), minitorch.tensor(target), reduction="none")
    t_losses = TF.cross_entropy(torch.tensor(probs), torch.tensor(target), reduction="none")
    assert_close(losses, t_losses, "float64")
    assert losses.numpy().min() > bound > 0.3124       # the document's last epoch: 0.3124
    logits = np.zeros((1, 10))
    logits[0, 0] = 10.0                               # raw logits can go as low as needed
    assert MF.cross_entropy(minitorch.tensor(logits), minitorch.tensor([0])).item() < 0.01


def test_e32_one_update_per_minibatch():
    """004 L552: "我们对每个训练样本进行前向传播和反向传播，并更新模型参数". The loop makes one
    update per *mini-batch*: the gradient of the batch's mean loss, i.e. the average of the
    per-sample gradients (938 updates per MNIST epoch at batch 64, not 60,000)."""
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    w0 = rng.standard_normal((1, 3))
    after = {}
    for L in (minitorch, torch):
        w = L.nn.Parameter(L.tensor(w0.copy()))
        opt = L.optim.SGD([w], lr=0.1)
        L.nn.functional.mse_loss(L.tensor(x) @ w.T, L.tensor(y)).backward()
        opt.step()
        after[L.__name__] = w.detach().numpy()
    np.testing.assert_allclose(after["minitorch"], after["torch"], rtol=1e-14)
    per_sample = [2 * (x[i] @ w0[0] - y[i, 0]) * x[i] for i in range(8)]
    np.testing.assert_allclose(after["minitorch"][0], w0[0] - 0.1 * np.mean(per_sample, axis=0),
                               rtol=1e-12)
    w_seq = w0[0].copy()                              # one update per sample instead
    for i in range(8):
        w_seq = w_seq - 0.1 * 2 * (x[i] @ w_seq - y[i, 0]) * x[i]
    assert not np.allclose(w_seq, after["minitorch"][0])
    assert math.ceil(60000 / 64) == 938
