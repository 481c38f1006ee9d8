"""``minitorch.vision.utils``: ``make_grid`` against hand-computed grids and the geometry drawn by
hypothesis, ``save_image`` written and read back (Pillow, matplotlib, neither).

torchvision is not installed here; the expectations follow its documented behaviour: row-major
tiles with ``padding`` around and between them, one channel repeated to three, a single image
unpadded, normalize = ``(clamp(x, lo, hi) - lo) / max(hi - lo, 1e-5)``, and bytes =
``uint8(clamp(255 x + 0.5, 0, 255))`` (checked against torch's own ops on the same floats)."""
import builtins
import io
import math
import sys

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minitorch
from minitorch.vision import utils as vutils
from minitorch.vision.utils import make_grid, save_image

PIL_Image = pytest.importorskip("PIL.Image", reason="the round trips read PNGs with Pillow")


def t(array, dtype=np.float32):
    return minitorch.tensor(np.asarray(array, dtype=dtype))


def test_two_images_side_by_side_with_a_one_pixel_border():
    a = [[[1, 2], [3, 4]]]                      # 1 x 2 x 2: repeated to 3 channels
    b = [[[5, 6], [7, 8]]]
    grid = make_grid(t([a, b]), padding=1, pad_value=0.5).numpy()
    p = 0.5
    expected = np.array([[p, p, p, p, p, p, p],
                         [p, 1, 2, p, 5, 6, p],
                         [p, 3, 4, p, 7, 8, p],
                         [p, p, p, p, p, p, p]], dtype=np.float32)
    assert grid.shape == (3, 4, 7)
    for c in range(3):
        np.testing.assert_array_equal(grid[c], expected)


def test_a_short_last_row_is_left_as_padding():
    images = t(np.arange(1, 4).reshape(3, 1, 1, 1))       # three 1x1 images, two per row
    grid = make_grid(images, nrow=2, padding=1).numpy()
    expected = np.array([[0, 0, 0, 0, 0],
                         [0, 1, 0, 2, 0],
                         [0, 0, 0, 0, 0],
                         [0, 3, 0, 0, 0],
                         [0, 0, 0, 0, 0]], dtype=np.float32)
    assert grid.shape == (3, 5, 5)
    np.testing.assert_array_equal(grid, np.stack([expected] * 3))


def test_padding_zero_and_nrow_larger_than_the_batch():
    images = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    grid = make_grid(t(images), nrow=8, padding=0).numpy()
    np.testing.assert_array_equal(grid, np.concatenate([images[0], images[1]], axis=2))


@pytest.mark.parametrize("shape, out_shape", [
    ((2, 3), (3, 2, 3)),           # H x W: one grey image -> RGB, unpadded
    ((1, 2, 3), (3, 2, 3)),        # 1 x H x W: the same
    ((3, 2, 3), (3, 2, 3)),        # C x H x W: as is
    ((2, 2, 3), (2, 2, 3)),        # two channels are not repeated
    ((1, 1, 2, 3), (3, 2, 3)),     # a batch of one: unpadded
    ((1, 4, 2, 3), (4, 2, 3)),
])
def test_single_images_come_back_unpadded(shape, out_shape):
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    grid = make_grid(t(x), padding=5, pad_value=9.0).numpy()
    assert grid.shape == out_shape
    core = x.reshape(-1, *shape[-2:])
    np.testing.assert_array_equal(grid, np.broadcast_to(core, out_shape) if len(core) == 1
                                  else core)


def test_a_list_of_images_is_the_stacked_batch():
    rng = np.random.default_rng(1)
    images = [t(rng.random((3, 4, 5))) for _ in range(5)]
    np.testing.assert_array_equal(make_grid(images, nrow=3).numpy(),
                                  make_grid(minitorch.stack(images), nrow=3).numpy())


def test_normalize_over_the_whole_batch_per_image_and_with_a_range():
    a = np.array([[[0.0, 1.0], [2.0, 3.0]]], dtype=np.float32)     # image 0: 0..3
    b = np.array([[[4.0, 4.0], [6.0, 8.0]]], dtype=np.float32)     # image 1: 4..8
    images = t([a, b])

    def tiles(grid):  # padding=0, nrow=2: the two images side by side, channel 0
        return grid.numpy()[0, :, :2], grid.numpy()[0, :, 2:]

    g0, g1 = tiles(make_grid(images, padding=0, normalize=True))           # min 0, max 8
    np.testing.assert_allclose(g0, a[0] / 8, rtol=1e-6)
    np.testing.assert_allclose(g1, b[0] / 8, rtol=1e-6)
    g0, g1 = tiles(make_grid(images, padding=0, normalize=True, scale_each=True))
    np.testing.assert_allclose(g0, a[0] / 3, rtol=1e-6)
    np.testing.assert_allclose(g1, (b[0] - 4) / 4, rtol=1e-6)
    g0, g1 = tiles(make_grid(images, padding=0, normalize=True, value_range=(1, 5)))
    np.testing.assert_allclose(g0, [[0, 0], [0.25, 0.5]], rtol=1e-6)   # clamped to [1, 5]
    np.testing.assert_allclose(g1, [[0.75, 0.75], [1, 1]], rtol=1e-6)


def test_normalize_a_constant_image_gives_zeros_and_leaves_padding_and_input_alone():
    x = minitorch.full((2, 1, 2, 2), 3.0)
    grid = make_grid(x, padding=1, normalize=True, pad_value=7.0).numpy()
    assert (grid[:, 1:3, 1:3] == 0).all() and (grid[:, 0, :] == 7.0).all()
    assert (x.numpy() == 3.0).all()  # normalize works on a copy


def test_dtype_kept_and_no_gradient_tracked():
    x = minitorch.rand(4, 3, 2, 2, dtype=minitorch.float64, requires_grad=True)
    grid = make_grid(x, nrow=2)
    assert grid.dtype == minitorch.float64 and not grid.requires_grad
    u8 = make_grid(minitorch.ones(2, 1, 2, 2, dtype=minitorch.uint8), pad_value=255)
    assert u8.dtype == minitorch.uint8 and int(u8.numpy().min()) == 1


@pytest.mark.parametrize("call, error, words", [
    (lambda: make_grid(minitorch.zeros(2, 3, 4, 4), nrow=0), ValueError, "nrow must be a positive"),
    (lambda: make_grid(minitorch.zeros(2, 3, 4, 4), padding=-1), ValueError, "padding must be"),
    (lambda: make_grid(minitorch.zeros(1, 2, 3, 4, 4)), ValueError, r"shape \(1, 2, 3, 4, 4\)"),
    (lambda: make_grid(minitorch.zeros(0, 3, 4, 4)), ValueError, "a batch of 0 images"),
    (lambda: make_grid([]), ValueError, "empty list"),
    (lambda: make_grid(np.zeros((3, 4, 4))), TypeError, "got ndarray"),
    (lambda: make_grid([minitorch.zeros(3, 2, 2), 1]), TypeError, "int at position 1"),
    (lambda: make_grid([minitorch.zeros(3, 2, 2), minitorch.zeros(3, 2, 3)]), RuntimeError,
     r"\(3,2,3\)"),
    (lambda: make_grid(minitorch.zeros(2, 3, 4, 4), normalize=True, value_range=1), TypeError,
     "value_range has to be a tuple"),
    (lambda: make_grid(minitorch.zeros(2, 3, 4, 4, dtype=minitorch.uint8), normalize=True),
     TypeError, "uint8"),
])
def test_bad_arguments_name_themselves(call, error, words):
    with pytest.raises(error, match=words):
        call()


@given(b=st.integers(1, 7), c=st.sampled_from([1, 2, 3, 4]), h=st.integers(1, 5),
       w=st.integers(1, 5), nrow=st.integers(1, 9), padding=st.integers(0, 3),
       pad_value=st.sampled_from([-1.0, 2.5]), as_list=st.booleans())
def test_grid_geometry(b, c, h, w, nrow, padding, pad_value, as_list):
    x = np.random.default_rng(b * 1000 + h * 10 + w).random((b, c, h, w), dtype=np.float32)
    images = [t(img) for img in x] if as_list else t(x)
    grid = make_grid(images, nrow=nrow, padding=padding, pad_value=pad_value).numpy()
    channels = 3 if c == 1 else c
    expected_images = np.broadcast_to(x, (b, channels, h, w))
    if b == 1:
        np.testing.assert_array_equal(grid, expected_images[0])
        return
    columns = min(nrow, b)
    rows = math.ceil(b / columns)
    assert grid.shape == (channels, rows * (h + padding) + padding,
                          columns * (w + padding) + padding)
    covered = np.zeros(grid.shape[1:], dtype=bool)
    for k in range(b):
        r, col = divmod(k, columns)
        top, left = r * (h + padding) + padding, col * (w + padding) + padding
        np.testing.assert_array_equal(grid[:, top:top + h, left:left + w], expected_images[k])
        covered[top:top + h, left:left + w] = True
    assert (grid[:, ~covered] == pad_value).all()
    assert covered.sum() == b * h * w  # tiles never overlap


# ---- save_image -------------------------------------------------------------------------------
def torch_bytes(grid: np.ndarray) -> np.ndarray:
    """torchvision's conversion, done with torch's ops on the same float32 grid: H x W x C."""
    g = torch.from_numpy(grid.copy())
    return g.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()


def read_png(source) -> np.ndarray:
    with PIL_Image.open(source) as im:
        return np.asarray(im)


def test_bytes_round_half_up_and_saturate(tmp_path):
    values = np.array([0.0, 0.2, 0.5, 1 / 255, 0.999, 1.0, 1.7, -0.3], dtype=np.float32)
    image = np.broadcast_to(values, (3, 1, 8)).copy()
    save_image(t(image), tmp_path / "v.png")
    read = read_png(tmp_path / "v.png")
    assert read.shape == (1, 8, 3) and read.dtype == np.uint8
    np.testing.assert_array_equal(read[0, :, 0], [0, 51, 128, 1, 255, 255, 255, 0])
    np.testing.assert_array_equal(read, torch_bytes(image))


@pytest.mark.parametrize("shape, kwargs", [
    ((5, 3, 6, 7), {"nrow": 2, "padding": 1, "pad_value": 0.25}),
    ((4, 1, 5, 5), {}),                                   # grey images: an RGB file
    ((3, 4, 4, 6), {"nrow": 3, "normalize": True}),       # RGBA
])
def test_save_image_round_trip_with_pillow(tmp_path, shape, kwargs):
    x = np.random.default_rng(2).random(shape, dtype=np.float32)
    path = tmp_path / "grid.png"
    save_image(t(x), str(path), **kwargs)
    expected = torch_bytes(make_grid(t(x), **kwargs).numpy())
    np.testing.assert_array_equal(read_png(path), expected)


def test_save_image_to_a_file_object_with_a_format():
    x = np.random.default_rng(3).random((2, 3, 3, 3), dtype=np.float32)
    buffer = io.BytesIO()
    save_image(t(x), buffer, format="png")
    assert buffer.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    buffer.seek(0)
    np.testing.assert_array_equal(read_png(buffer), torch_bytes(make_grid(t(x)).numpy()))


def test_save_image_falls_back_to_matplotlib_without_pillow(tmp_path, monkeypatch):
    mpl_image = pytest.importorskip("matplotlib.image")
    calls = []
    real_imsave = mpl_image.imsave

    def spy(*args, **kwargs):
        calls.append(args[0])
        return real_imsave(*args, **kwargs)

    x = np.random.default_rng(4).random((3, 3, 4, 5), dtype=np.float32)
    path = tmp_path / "mpl.png"
    real_import = builtins.__import__

    def import_without_pillow(name, globals=None, *args, **kwargs):
        # only save_image's own `from PIL import Image` fails: matplotlib writes through Pillow
        if name.split(".")[0] == "PIL" and (globals or {}).get("__name__") == vutils.__name__:
            raise ImportError("No module named 'PIL' (hidden by the test)")
        return real_import(name, globals, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(builtins, "__import__", import_without_pillow)
        m.setattr(mpl_image, "imsave", spy)
        save_image(t(x), path, nrow=2)
    assert calls == [path]
    read = read_png(path)                            # matplotlib writes RGBA, opaque
    assert (read[..., 3] == 255).all()
    np.testing.assert_array_equal(read[..., :3], torch_bytes(make_grid(t(x), nrow=2).numpy()))


def test_save_image_without_pillow_or_matplotlib_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"Pillow or matplotlib.*pip install pillow"):
        save_image(minitorch.rand(2, 3, 4, 4), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ImportError):
        vutils._png_writer()


@pytest.mark.parametrize("x, error, words", [
    (minitorch.zeros(2, 3, 4, 4, dtype=minitorch.uint8), TypeError, "divide by 255"),
    (minitorch.zeros(2, 2, 4, 4), ValueError, "the grid has 2"),
])
def test_save_image_refuses_what_no_image_file_holds(tmp_path, x, error, words):
    with pytest.raises(error, match=words):
        save_image(x, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
