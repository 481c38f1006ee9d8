"""``minitorch.vision``: transforms against torch's equivalents, and the datasets' file readers.

torchvision is not installed, so each transform is compared with the torch computation it stands
for: ``Resize`` with ``F.interpolate(mode='bilinear'|'nearest', align_corners=False,
antialias=False)``, ``RandomRotation`` with ``affine_grid`` + ``grid_sample`` (torchvision's own
tensor path) and with ``np.rot90``, ``RandomCrop``'s padding with ``F.pad``, ``ToTensor`` /
``Normalize`` / ``MinMaxScale`` / ``Standardize`` with their formulas in torch (forward and, for
the differentiable ones, backward). Random transforms are reproducible under
``minitorch.manual_seed`` and keep their invariants. The dataset tests write tiny IDX files and
CIFAR pickles into ``tmp_path`` and read them back, and check the error for every missing or
corrupt file.
"""
import gzip
import math
import pickle
import shutil
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import tomllib
import torch
import torch.nn.functional as TF
from hypothesis import assume, example, given
from hypothesis import strategies as st
from torch_compare import assert_close, check, check_float32_accuracy

import minitorch
from minitorch.utils.data import DataLoader
from minitorch.vision import datasets
from minitorch.vision import functional as VF
from minitorch.vision import transforms as T
from minitorch.vision.datasets import DatasetCorruptError, DatasetNotFoundError

DTYPES = st.sampled_from(["float32", "float64"])


def mt(a):
    return minitorch.tensor(np.array(a, copy=True))


# ---- ToTensor ----------------------------------------------------------------------------------
def test_to_tensor_matches_torch():
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    out = T.ToTensor()(hwc)
    ref = torch.from_numpy(hwc).permute(2, 0, 1).float().div(255)
    assert out.dtype == minitorch.float32
    assert_close(out, ref, "float32", rtol=0)  # the same float32 division: bit-identical
    hw = rng.integers(0, 256, (6, 7), dtype=np.uint8)
    assert_close(T.ToTensor()(hw), torch.from_numpy(hw)[None].float().div(255), "float32", rtol=0)
    f64 = rng.random((3, 2, 2))  # float arrays keep dtype and scale
    out = T.ToTensor()(f64)
    assert out.dtype == minitorch.float64
    np.testing.assert_array_equal(np.asarray(out), f64.transpose(2, 0, 1))


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="needs no ToTensor"):
        T.ToTensor()(minitorch.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="2/3 dimensional. Got 4"):
        T.ToTensor()(np.zeros((1, 2, 2, 1), np.uint8))
    with pytest.raises(TypeError, match="ndarray. Got list"):
        T.ToTensor()([[1, 2]])


# ---- Normalize ---------------------------------------------------------------------------------
@given(c=st.integers(1, 4), h=st.integers(1, 5), w=st.integers(1, 5), batch=st.booleans(),
       dtype=DTYPES, seed=st.integers(0, 2**32 - 1))
def test_normalize_matches_torch(c, h, w, batch, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(((2,) if batch else ()) + (c, h, w))
    mean, std = rng.standard_normal(c).tolist(), rng.uniform(0.1, 2, c).tolist()

    def normalize(L, x):
        if L is minitorch:
            return T.Normalize(mean, std)(x)
        return (x - torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1)) / \
            torch.tensor(std, dtype=x.dtype).view(-1, 1, 1)

    check(normalize, x, dtype=dtype)


def test_normalize_inplace_and_errors():
    x = minitorch.ones(2, 3, 3)
    out = T.Normalize([0.5, 0.25], [0.5, 0.25], inplace=True)(x)
    assert out is x and np.allclose(np.asarray(x), [[[1.0]], [[3.0]]])
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize([0.0], [0.0])(minitorch.ones(1, 2, 2))
    with pytest.raises(TypeError, match="float tensor. Got minitorch.uint8"):
        T.Normalize([0.0], [1.0])(minitorch.ones(1, 2, 2, dtype=minitorch.uint8))
    with pytest.raises(ValueError, match="mean has 2 values but the image has 3 channels"):
        T.Normalize([0.0, 1.0], [1.0])(minitorch.ones(3, 2, 2))
    with pytest.raises(ValueError, match=r"size \(\.\.\., C, H, W\). Got .*\(2, 2\)"):
        T.Normalize([0.0], [1.0])(minitorch.ones(2, 2))


# ---- Resize ------------------------------------------------------------------------------------
@given(h=st.integers(1, 12), w=st.integers(1, 12), oh=st.integers(1, 30), ow=st.integers(1, 30),
       lead=st.lists(st.integers(1, 3), max_size=2), dtype=DTYPES,
       mode=st.sampled_from(["bilinear", "nearest"]), seed=st.integers(0, 2**32 - 1))
def test_resize_matches_interpolate(h, w, oh, ow, lead, dtype, mode, seed):
    x = np.random.default_rng(seed).standard_normal((*lead, h, w)).astype(dtype)
    out = T.Resize((oh, ow), interpolation=mode)(minitorch.tensor(x))
    t = torch.from_numpy(x).reshape(-1, 1, h, w)
    kwargs = dict(align_corners=False, antialias=False) if mode == "bilinear" else {}
    ref = TF.interpolate(t, size=(oh, ow), mode=mode, **kwargs).reshape(*lead, oh, ow)
    assert out.dtype.name == dtype
    assert_close(out, ref, dtype)


def test_resize_int_matches_the_shorter_edge_and_numpy_images():
    assert tuple(T.Resize(4)(minitorch.zeros(3, 8, 16)).shape) == (3, 4, 8)
    assert tuple(T.Resize([4])(minitorch.zeros(1, 10, 5)).shape) == (1, 8, 4)
    assert tuple(T.Resize(4, max_size=6)(minitorch.zeros(1, 5, 10)).shape) == (1, 3, 6)
    img = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)  # HWC uint8
    out = T.Resize((9, 4))(img)
    assert out.dtype == np.uint8 and out.shape == (9, 4, 3)
    ref = TF.interpolate(torch.from_numpy(img).permute(2, 0, 1)[None].double(), size=(9, 4),
                         mode="bilinear", align_corners=False, antialias=False)
    np.testing.assert_array_equal(out, ref[0].permute(1, 2, 0).round().numpy().astype(np.uint8))


def test_resize_errors():
    with pytest.raises(ValueError, match="must be positive"):
        T.Resize((0, 3))
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize((1, 2, 3))
    with pytest.raises(NotImplementedError, match="antialias"):
        T.Resize(3, antialias=True)
    with pytest.raises(ValueError, match="max_size should only be passed"):
        T.Resize((3, 3), max_size=5)(minitorch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match=r"HxW or HxWxC, got shape \(2, 2, 2, 2\)"):
        T.Resize(3)(np.zeros((2, 2, 2, 2)))


# ---- RandomCrop --------------------------------------------------------------------------------
def test_random_crop_full_size_without_padding_is_identity():
    x = minitorch.randn(2, 5, 7)
    np.testing.assert_array_equal(np.asarray(T.RandomCrop((5, 7))(x)), np.asarray(x))
    img = np.arange(20, dtype=np.uint8).reshape(4, 5)
    np.testing.assert_array_equal(T.RandomCrop((4, 5), padding=0)(img), img)


@given(h=st.integers(1, 9), w=st.integers(1, 9), pad=st.integers(0, 3), seed=st.integers(0, 999),
       mode=st.sampled_from(["constant", "edge", "reflect"]))
def test_random_crop_is_a_window_of_the_padded_image(h, w, pad, seed, mode):
    assume(mode != "reflect" or pad < min(h, w))  # else an error (test_padding_modes_and_errors)
    x = np.random.default_rng(seed).standard_normal((2, h, w))
    th, tw = np.random.default_rng(seed + 1).integers(1, [h + 2 * pad + 1, w + 2 * pad + 1])
    crop = T.RandomCrop((int(th), int(tw)), padding=pad, padding_mode=mode, fill=-1.5)
    minitorch.manual_seed(seed)
    out = crop(minitorch.tensor(x))
    minitorch.manual_seed(seed)
    assert np.array_equal(np.asarray(crop(minitorch.tensor(x))), np.asarray(out))  # reproducible
    torch_mode = {"constant": "constant", "edge": "replicate", "reflect": "reflect"}[mode]
    padded = TF.pad(torch.from_numpy(x)[None], (pad,) * 4, mode=torch_mode,
                    **({"value": -1.5} if mode == "constant" else {}))[0].numpy()
    minitorch.manual_seed(seed)
    top, left, hh, ww = T.RandomCrop.get_params(minitorch.tensor(padded), (int(th), int(tw)))
    assert (hh, ww) == (th, tw) and tuple(out.shape) == (2, th, tw)
    np.testing.assert_array_equal(np.asarray(out), padded[:, top:top + th, left:left + tw])


def test_random_crop_covers_every_offset_and_pads_if_needed():
    x = minitorch.arange(16, dtype=minitorch.float32).reshape(1, 4, 4)
    minitorch.manual_seed(0)
    corners = {float(T.RandomCrop(2)(x)[0, 0, 0]) for _ in range(300)}
    assert corners == {float(v) for v in np.arange(16).reshape(4, 4)[:3, :3].ravel()}
    out = T.RandomCrop((6, 3), pad_if_needed=True)(np.ones((2, 3), np.uint8))
    assert out.shape == (6, 3)  # pads the shortfall on both sides, as torchvision


def test_padding_modes_and_errors():
    a = np.arange(12.0).reshape(1, 3, 4)
    t = torch.from_numpy(a)[None]
    np.testing.assert_array_equal(VF.pad(a, (1, 2, 3, 1), padding_mode="reflect"),
                                  TF.pad(t, (1, 3, 2, 1), mode="reflect")[0].numpy())
    np.testing.assert_array_equal(VF.pad(a, (2, 1), padding_mode="edge"),
                                  TF.pad(t, (2, 2, 1, 1), mode="replicate")[0].numpy())
    sym = VF.pad(a, 1, padding_mode="symmetric")
    np.testing.assert_array_equal(sym[0, 1:-1, 1:-1], a[0])  # symmetric repeats the border
    np.testing.assert_array_equal(sym[0, :, 0], sym[0, :, 1])
    with pytest.raises(ValueError, match="reflect padding .* smaller than the image size"):
        VF.pad(a, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="padding must be an int or a sequence of 1, 2 or 4"):
        T.RandomCrop(2, padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"Required crop size \(5, 5\) is larger than input "
                                         r"image size \(3, 4\)"):
        T.RandomCrop(5)(minitorch.tensor(a))


# ---- RandomHorizontalFlip ----------------------------------------------------------------------
def test_horizontal_flip():
    x = minitorch.randn(3, 4, 5)
    flipped = T.RandomHorizontalFlip(p=1.0)(x)
    np.testing.assert_array_equal(np.asarray(flipped), torch.from_numpy(np.asarray(x)).flip(-1))
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(flipped)), np.asarray(x))
    assert T.RandomHorizontalFlip(p=0.0)(x) is x
    img = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)  # HWC: flip the W axis
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(img), img[:, ::-1])
    flip = T.RandomHorizontalFlip()
    minitorch.manual_seed(7)
    first = [T.RandomHorizontalFlip()(x) is x for _ in range(40)]
    minitorch.manual_seed(7)
    assert [flip(x) is x for _ in range(40)] == first and 5 < sum(first) < 35
    with pytest.raises(ValueError, match="p must be in"):
        T.RandomHorizontalFlip(1.5)


# ---- RandomRotation ----------------------------------------------------------------------------
def grid_sample_rotate(x, angle, mode):
    """torchvision's tensor rotation: an inverse affine grid sampled with align_corners=False."""
    h, w = x.shape[-2:]
    a = math.radians(angle)
    c, s = math.cos(a), math.sin(a)
    theta = torch.tensor([[[c, -s * h / w, 0.0], [s * w / h, c, 0.0]]], dtype=torch.float64)
    t = torch.from_numpy(x).reshape(1, -1, h, w)
    grid = TF.affine_grid(theta, list(t.shape), align_corners=False)
    out = TF.grid_sample(t, grid, mode=mode, padding_mode="zeros", align_corners=False)
    return out.reshape(x.shape).numpy()


@given(h=st.integers(1, 9), w=st.integers(1, 9), degrees=st.floats(0, 180),
       seed=st.integers(0, 999),
       mode=st.sampled_from(["bilinear", "nearest"]))
def test_random_rotation_matches_grid_sample(h, w, degrees, seed, mode):
    x = np.random.default_rng(seed).standard_normal((2, h, w))
    rot = T.RandomRotation(degrees, interpolation=mode)
    minitorch.manual_seed(seed)
    out = rot(minitorch.tensor(x))
    minitorch.manual_seed(seed)
    angle = T.RandomRotation.get_params(rot.degrees)
    assert -degrees <= angle <= degrees
    ref = grid_sample_rotate(x, angle, mode)
    if mode == "nearest":  # a source exactly half-way between pixels may round either way
        h_src, w_src = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2,
                                   indexing="ij")
        a = math.radians(angle)
        xs = math.cos(a) * w_src - math.sin(a) * h_src
        ys = math.sin(a) * w_src + math.cos(a) * h_src
        ties = (np.abs(np.abs((xs + (w - 1) / 2) % 1) - 0.5) < 1e-6) | \
            (np.abs(np.abs((ys + (h - 1) / 2) % 1) - 0.5) < 1e-6)
        np.testing.assert_array_equal(np.asarray(out)[:, ~ties], ref[:, ~ties])
    else:
        assert_close(out, torch.from_numpy(ref), "float64")


def test_rotation_by_90_is_rot90_and_0_is_identity():
    img = np.random.default_rng(0).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    for mode in ("nearest", "bilinear"):
        out = T.RandomRotation((90, 90), interpolation=mode)(img)
        np.testing.assert_array_equal(out, np.rot90(img))  # counter-clockwise, as torchvision
        np.testing.assert_array_equal(T.RandomRotation((0, 0), interpolation=mode)(img), img)
    x = minitorch.randn(1, 6, 6)
    np.testing.assert_allclose(np.asarray(T.RandomRotation((-90, -90))(x)),
                               np.rot90(np.asarray(x), -1, axes=(1, 2)))


def test_rotation_fill_and_errors():
    ones = np.ones((1, 5, 5))
    out = VF.rotate(ones, 45, "nearest", fill=7.0)
    assert out[0, 0, 0] == 7.0 and out[0, 2, 2] == 1.0
    with pytest.raises(ValueError, match="it must be positive"):
        T.RandomRotation(-3)
    with pytest.raises(NotImplementedError, match="expand=True"):
        T.RandomRotation(3, expand=True)
    with pytest.raises(ValueError, match="interpolation must be"):
        T.RandomRotation(3, interpolation="bicubic")


# ---- MinMaxScale and Standardize (seed 003) ----------------------------------------------------
def test_seed_examples():
    x = minitorch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(np.asarray(T.MinMaxScale()(x)), [0, 0.25, 0.5, 0.75, 1])
    # the seed says [-2, -1, 0, 1, 2] (std "1"); the std of 1..5 is sqrt(2) (erratum)
    np.testing.assert_allclose(np.asarray(T.Standardize()(x)), (np.arange(1, 6) - 3) / np.sqrt(2),
                               rtol=1e-6)
    np.testing.assert_allclose(np.asarray(T.Standardize(correction=1)(x)),
                               (np.arange(1, 6) - 3) / np.sqrt(2.5), rtol=1e-6)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), per_channel=st.booleans(),
       dtype=DTYPES, seed=st.integers(0, 2**32 - 1))
@example(shape=[3, 3], per_channel=True, dtype="float32", seed=100)  # a channel of std 0.02
def test_minmax_and_standardize_match_torch(shape, per_channel, dtype, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    dim = tuple(range(1, len(shape))) if per_channel and len(shape) > 1 else None
    tdim = dim if dim is not None else tuple(range(len(shape)))
    n = int(np.prod([shape[d] for d in tdim]))

    def minmax(L, x):
        if L is minitorch:
            return T.MinMaxScale(dim=dim)(x)
        lo, hi = x.amin(tdim, keepdim=True), x.amax(tdim, keepdim=True)
        span = hi - lo
        return (x - lo) / torch.where(span == 0, torch.ones_like(span), span)

    def standardize(L, x):
        if L is minitorch:
            return T.Standardize(dim=dim)(x)
        centred = x - x.mean(tdim, keepdim=True)
        std = x.std(tdim, correction=0, keepdim=True)
        return centred / torch.where(std == 0, torch.ones_like(std), std)

    check(minmax, x, dtype=dtype, backward=n > 1 and len(set(x.ravel())) == x.size)
    if n > 1 and dtype == "float64":
        check(standardize, x, dtype=dtype)
    elif n > 1:  # a slice of nearly equal values is ill-conditioned: see check_float32_accuracy
        check_float32_accuracy(standardize, x)


def test_scalers_constant_input_and_errors():
    np.testing.assert_array_equal(np.asarray(T.MinMaxScale()(minitorch.full((2, 3), 4.0))), 0)
    for value, n in [(4.0, 6), (0.1, 7), (0.7, 10)]:  # 0.1 * 7 / 7 rounds away from 0.1
        x = minitorch.full((n,), value, dtype=minitorch.float64)
        np.testing.assert_array_equal(np.asarray(T.Standardize()(x)), 0)
    x = minitorch.tensor([[0.1] * 7, list(range(7))], dtype=minitorch.float64)
    out = np.asarray(T.Standardize(dim=1)(x))
    np.testing.assert_array_equal(out[0], 0)
    np.testing.assert_allclose(out[1], (np.arange(7) - 3) / 2, rtol=1e-12)
    with pytest.raises(TypeError, match="float tensor, got minitorch.int64"):
        T.MinMaxScale()(minitorch.arange(3))
    with pytest.raises(TypeError, match="apply ToTensor first"):
        T.Standardize()(np.ones(3))
    with pytest.raises(ValueError, match="no degrees of freedom"):
        T.Standardize(correction=1)(minitorch.ones(1))


def test_compose_and_lambda():
    pipe = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize([1.0], [2.0])])
    out = pipe(np.full((2, 2), 255, np.uint8))
    np.testing.assert_allclose(np.asarray(out), 0.5)
    assert "Normalize" in repr(pipe)


# ---- Digits ------------------------------------------------------------------------------------
def test_digits_splits():
    train, test, full = (datasets.Digits(train=t) for t in (True, False, None))
    assert (len(train), len(test), len(full)) == (1437, 360, 1797)
    counts = np.bincount(np.asarray(full.targets), minlength=10)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    test_counts = np.bincount(np.asarray(test.targets), minlength=10)
    assert np.all(np.abs(test_counts - counts * 360 / 1797) < 1)  # stratified
    train_idx, test_idx = datasets.digits.split_indices(np.asarray(full.targets))
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert np.array_equal(np.union1d(train_idx, test_idx), np.arange(1797))
    np.testing.assert_array_equal(np.asarray(test.data), np.asarray(full.data)[test_idx])
    np.testing.assert_array_equal(np.asarray(datasets.Digits(train=False).targets),
                                  np.asarray(test.targets))  # the split is fixed


def test_digits_images():
    d = datasets.Digits(train=None)
    img, target = d[0]
    assert isinstance(img, minitorch.Tensor) and img.dtype == minitorch.float32
    assert tuple(img.shape) == (1, 8, 8) and target == 0 and isinstance(target, int)
    first_row = [0, 0, 5, 13, 9, 1, 0, 0]  # the first line of scikit-learn's digits.csv
    np.testing.assert_allclose(np.asarray(img)[0, 0], np.array(first_row) / 16)
    data = np.asarray(d.data)
    assert data.min() == 0.0 and data.max() == 1.0
    d28 = datasets.Digits(train=None, size=28)
    ref = TF.interpolate(torch.from_numpy(data), size=(28, 28), mode="bilinear",
                         align_corners=False, antialias=False)
    assert_close(d28.data, ref, "float32")
    assert tuple(d28[5][0].shape) == (1, 28, 28)
    with pytest.raises(IndexError, match="index 1797 is out of range"):
        d[1797]


def test_digits_with_transforms_and_loader():
    d = datasets.Digits(train=False, size=28, transform=T.Compose(
        [T.RandomRotation(10), T.Normalize([0.5], [0.5])]), target_transform=lambda y: y % 2)
    minitorch.manual_seed(0)
    x, y = next(iter(DataLoader(d, batch_size=32, shuffle=True)))
    assert tuple(x.shape) == (32, 1, 28, 28) and x.dtype == minitorch.float32
    assert y.dtype == minitorch.int64 and set(y.tolist()) <= {0, 1}
    assert float(x.amin()) >= -1.0 and float(x.amax()) <= 1.0


def test_digits_from_root_and_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"'digits.csv.gz' or 'digits.csv' not found "
                                                   r"in '.*'"):
        datasets.Digits(root=tmp_path)
    shutil.copy(datasets.digits.DATA_FILE, tmp_path / "digits.csv.gz")
    assert len(datasets.Digits(root=tmp_path, train=False)) == 360
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "digits.csv").write_text("1,2,3\n")
    with pytest.raises(DatasetCorruptError, match="65 columns"):
        datasets.Digits(root=bad)
    with pytest.raises(ValueError, match="size must be a positive int"):
        datasets.Digits(size=0)


def test_digits_file_is_package_data():
    assert datasets.digits.DATA_FILE.is_file()
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["minitorch.vision.datasets"]
    assert any(fnmatch("data/digits.csv.gz", p) for p in patterns)


# ---- MNIST (IDX files) -------------------------------------------------------------------------
def write_idx(path, arr, type_code=0x08):
    header = bytes([0, 0, type_code, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    body = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(body)
    else:
        Path(path).write_bytes(body)


def make_mnist(root, n=5, gz=False, folder="MNIST", prefix="train"):
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    ext = ".gz" if gz else ""
    write_idx(raw / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    images, labels = make_mnist(tmp_path, n=5, gz=gz)
    make_mnist(tmp_path, n=3, gz=not gz, prefix="t10k")
    ds = datasets.MNIST(tmp_path, train=True)
    assert len(ds) == 5 and ds.data.dtype == minitorch.uint8 and ds.targets.dtype == minitorch.int64
    np.testing.assert_array_equal(np.asarray(ds.data), images)
    img, target = ds[2]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    np.testing.assert_array_equal(img, images[2])
    assert target == int(labels[2]) and isinstance(target, int)
    test = datasets.MNIST(tmp_path, train=False, download=True, transform=T.ToTensor())
    x, _ = test[0]
    assert len(test) == 3 and tuple(x.shape) == (1, 28, 28) and x.dtype == minitorch.float32
    xb, yb = next(iter(DataLoader(test, batch_size=3)))
    assert tuple(xb.shape) == (3, 1, 28, 28) and yb.dtype == minitorch.int64


def test_idx_other_dtypes_round_trip(tmp_path):
    for code, dtype in [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32),
                        (0x0E, np.float64)]:
        arr = (np.arange(24) - 7).reshape(2, 3, 4).astype(dtype)
        write_idx(tmp_path / "a.idx", arr, code)
        out = datasets.read_idx(tmp_path / "a.idx")
        assert out.dtype == dtype and out.dtype.isnative
        np.testing.assert_array_equal(out, arr)


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    make_mnist(tmp_path, n=4, folder="FashionMNIST")
    ds = datasets.FashionMNIST(tmp_path)
    assert len(ds) == 4 and ds.classes[9] == "Ankle boot"
    with pytest.raises(DatasetNotFoundError, match="MNIST"):
        datasets.MNIST(tmp_path)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        datasets.MNIST(tmp_path)
    msg = str(e.value)
    assert "'train-images-idx3-ubyte' or 'train-images-idx3-ubyte.gz'" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg and "download=True" not in msg
    assert isinstance(e.value, RuntimeError)  # what torchvision raises
    with pytest.raises(DatasetNotFoundError, match="no network download"):
        datasets.MNIST(tmp_path, download=True)
    make_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFoundError, match="train-labels-idx1-ubyte"):
        datasets.MNIST(tmp_path)


def test_mnist_corrupt_files(tmp_path):
    images, labels = make_mnist(tmp_path, n=4)
    raw = tmp_path / "MNIST" / "raw"
    imgs = raw / "train-images-idx3-ubyte"
    good = imgs.read_bytes()
    imgs.write_bytes(good[:-10])
    with pytest.raises(DatasetCorruptError, match=r"truncated or corrupt.*\(4, 28, 28\)"):
        datasets.MNIST(tmp_path)
    imgs.write_bytes(b"\x12\x34" + good[2:])
    with pytest.raises(DatasetCorruptError, match="not an IDX file: bad magic number 1234"):
        datasets.MNIST(tmp_path)
    imgs.write_bytes(good[:10])
    with pytest.raises(DatasetCorruptError, match="truncated inside its header"):
        datasets.MNIST(tmp_path)
    write_idx(imgs, images[:3])
    with pytest.raises(DatasetCorruptError, match="holds 3 images but .* holds 4 labels"):
        datasets.MNIST(tmp_path)
    imgs.unlink()
    (raw / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DatasetCorruptError, match="cannot be read"):
        datasets.MNIST(tmp_path)


def test_idx_header_whose_sizes_overflow_names_the_file_and_shape(tmp_path):
    # four sizes of 2**16: 2**64 values, which int64 arithmetic wraps to 0, the 0 bytes present
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 4]) + np.array([2 ** 16] * 4, ">u4").tobytes())
    with pytest.raises(DatasetCorruptError,
                       match=r"huge-idx3-ubyte' is truncated or corrupt: its header says shape "
                             r"\(65536, 65536, 65536, 65536\) of uint8 = 18446744073709551616 "
                             r"bytes of data, but it holds 0"):
        datasets.read_idx(path)


# ---- CIFAR-10 (pickle batches) -----------------------------------------------------------------
def make_cifar(root, sizes=(2, 3, 1, 2, 2), n_test=3):
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, list(sizes) + [n_test]):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        batches[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({"batch_label": name, "labels": labels, "data": data,
                         "filenames": [f"{name}_{i}.png" for i in range(n)]}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"], "num_vis": 3072}, f)
    return batches


def test_cifar10_reads_pickles(tmp_path):
    batches = make_cifar(tmp_path)
    ds = datasets.CIFAR10(tmp_path, train=True)
    assert len(ds) == 10 and ds.data.shape == (10, 32, 32, 3) and ds.classes[3] == "cat"
    raw = np.vstack([batches[f"data_batch_{i}"][0] for i in range(1, 6)])
    img, target = ds[4]
    assert img.dtype == np.uint8 and img.shape == (32, 32, 3)
    r, c = 7, 21  # channel k of pixel (r, c) is entry k * 1024 + r * 32 + c of the row
    assert [img[r, c, k] for k in range(3)] == [raw[4, k * 1024 + r * 32 + c] for k in range(3)]
    labels = sum((batches[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert ds.targets == labels and target == labels[4]
    test = datasets.CIFAR10(tmp_path, train=False, transform=T.ToTensor(), download=True)
    x, y = test[1]
    assert tuple(x.shape) == (3, 32, 32) and y == batches["test_batch"][1][1]
    np.testing.assert_allclose(np.asarray(x), batches["test_batch"][0][1].reshape(3, 32, 32) / 255,
                               rtol=1e-6)


def test_cifar10_missing_and_corrupt(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"'data_batch_1' not found in .*"
                                                   r"cifar-10-batches-py"):
        datasets.CIFAR10(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="no network download"):
        datasets.CIFAR10(tmp_path, download=True)
    make_cifar(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    (folder / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(DatasetCorruptError, match="data_batch_3' is not a readable CIFAR pickle"):
        datasets.CIFAR10(tmp_path)
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, f)
    with pytest.raises(DatasetCorruptError, match=r"shape \(N, 3072\), got uint8 of shape "
                                                  r"\(2, 100\)"):
        datasets.CIFAR10(tmp_path)
    (folder / "test_batch").unlink()
    with pytest.raises(DatasetNotFoundError, match="'test_batch'"):
        datasets.CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("bad, shown", [("cat", "'cat' of type str"), (1.5, "1.5 of type float"),
                                        (None, "None of type NoneType"),
                                        (True, "True of type bool"),
                                        (np.float32(2.0), "of type float32")])
def test_cifar_labels_that_are_not_integers_name_the_file_and_value(tmp_path, bad, shown):
    make_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((3, 3072), np.uint8), "labels": [0, 7, bad]}, f)
    with pytest.raises(DatasetCorruptError) as info:
        datasets.CIFAR10(tmp_path)
    assert f"'{path}': 'labels'[2] is " in str(info.value) and shown in str(info.value)
    assert "not an integer class index" in str(info.value)
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((3, 3072), np.uint8), "labels": 3}, f)
    with pytest.raises(DatasetCorruptError, match=r"data_batch_2': 'labels' should be a sequence "
                                                  r"of integer class indices, got int 3"):
        datasets.CIFAR10(tmp_path)


def test_cifar_labels_may_be_numpy_integers(tmp_path):
    make_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    with open(path, "wb") as f:
        pickle.dump({"data": np.zeros((3, 3072), np.uint8),
                     "labels": np.array([4, 0, 9], np.int64)}, f)
    ds = datasets.CIFAR10(tmp_path)
    assert ds.targets[2:5] == [4, 0, 9] and all(type(t) is int for t in ds.targets)


class _Evil:
    def __reduce__(self):
        return (eval, ("__import__('pathlib').Path('PWNED').touch()",))


def test_cifar_pickle_loader_refuses_code(tmp_path, monkeypatch):
    make_cifar(tmp_path)
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "wb") as f:
        pickle.dump({"data": _Evil(), "labels": []}, f)
    with pytest.raises(DatasetCorruptError, match="refusing to load global builtins.eval"):
        datasets.CIFAR10(tmp_path)
    assert not (tmp_path / "PWNED").exists()
