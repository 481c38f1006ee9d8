"""``minitorch.vision.transforms`` on PIL images, and ``CenterCrop``.

torchvision is not installed, so the references are what torchvision computes: for PIL images it
calls Pillow (``resize``, ``rotate``, ``crop``/``transpose``, ``np.asarray`` in ``ToTensor``), so
our PIL results are compared with Pillow's own calls and with our array path on
``np.asarray(img)``; ``CenterCrop`` is compared with torch slicing and ``torch.nn.functional.pad``
at torchvision's offsets (round half to even; odd padding to the bottom/right), with the offsets
also spelled out for small cases. Without Pillow loaded nothing imports it.
"""
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch
from minitorch.vision import transforms as T

Image = pytest.importorskip("PIL.Image")

MODES = {"L": (), "LA": (2,), "RGB": (3,), "RGBA": (4,)}


def pil_image(mode="RGB", h=7, w=9, seed=0):
    shape = (h, w) + MODES[mode]
    arr = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return Image.fromarray(arr).convert(mode) if mode == "LA" else Image.fromarray(arr)


# ---- ToTensor ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(MODES))
def test_to_tensor_of_a_pil_image_matches_torch(mode):
    img = pil_image(mode)
    out = T.ToTensor()(img)
    arr = np.asarray(img)
    ref = torch.from_numpy(arr.copy()).reshape(img.height, img.width, -1).permute(2, 0, 1)
    ref = ref.float().div(255)
    assert out.dtype == minitorch.float32 and tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_array_equal(np.asarray(out), ref.numpy())  # the same float32 division


def test_to_tensor_of_pil_modes_1_p_i_f():
    bits = Image.fromarray(np.array([[True, False], [False, True]]))
    np.testing.assert_array_equal(np.asarray(T.ToTensor()(bits)), [[[1.0, 0.0], [0.0, 1.0]]])
    pal = pil_image("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=5)
    np.testing.assert_array_equal(np.asarray(T.ToTensor()(pal)),
                                  np.asarray(pal)[None].astype(np.float32) / np.float32(255))
    ints = Image.fromarray(np.array([[70000, -3]], dtype=np.int32))
    out = T.ToTensor()(ints)
    assert out.dtype == minitorch.int32 and np.asarray(out).tolist() == [[[70000, -3]]]
    floats = Image.fromarray(np.array([[0.25, 7.5]], dtype=np.float32))
    out = T.ToTensor()(floats)
    assert out.dtype == minitorch.float32 and np.asarray(out).tolist() == [[[0.25, 7.5]]]


# ---- Resize ------------------------------------------------------------------------------------
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [4, (3, 5), (11, 14), [6]])
def test_resize_of_a_pil_image_is_pillows_resize(mode, size, interpolation):
    img = pil_image(mode, h=9, w=12)
    out = T.Resize(size, interpolation=interpolation)(img)
    h, w = {4: (4, 5), (3, 5): (3, 5), (11, 14): (11, 14)}.get(
        size if not isinstance(size, list) else None, (6, 8))  # int: the shorter edge
    resample = Image.Resampling.BILINEAR if interpolation == "bilinear" else \
        Image.Resampling.NEAREST
    ref = img.resize((w, h), resample)
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == (w, h)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_resize_shrink_differs_from_pillows_antialiased_result_on_arrays():
    """The documented deviation: arrays/tensors equal F.interpolate(antialias=False), which for a
    3x shrink of a stripe pattern is far from Pillow's (= torchvision's antialiased) result."""
    stripes = np.tile(np.array([0, 255], np.uint8), (18, 9))  # 18 x 18, alternating columns
    ours = T.Resize((6, 6))(stripes)
    pil = np.asarray(T.Resize((6, 6))(Image.fromarray(stripes)))
    ref = TF.interpolate(torch.from_numpy(stripes)[None, None].double(), size=(6, 6),
                         mode="bilinear", align_corners=False, antialias=False)
    np.testing.assert_array_equal(ours, ref[0, 0].round().numpy().astype(np.uint8))
    assert np.all(np.abs(pil.astype(int) - 128) <= 50)  # antialiased: towards the average grey
    assert np.all(np.abs(ours.astype(int) - 128) >= 127)  # sampled: the stripes' 0 and 255


# ---- CenterCrop --------------------------------------------------------------------------------
def torch_center_crop(x, h, w):
    """torchvision's rule written with torch ops: pad (odd pixel bottom/right), then slice at
    round((H - h) / 2), round((W - w) / 2)."""
    H, W = x.shape[-2:]
    dh, dw = max(h - H, 0), max(w - W, 0)
    x = TF.pad(x, (dw // 2, (dw + 1) // 2, dh // 2, (dh + 1) // 2))
    H, W = x.shape[-2:]
    top, left = int(round((H - h) / 2.0)), int(round((W - w) / 2.0))
    return x[..., top:top + h, left:left + w]


@settings(deadline=None)
@given(H=st.integers(1, 12), W=st.integers(1, 12), h=st.integers(1, 15), w=st.integers(1, 15),
       lead=st.lists(st.integers(1, 3), max_size=2), seed=st.integers(0, 2**16))
def test_center_crop_matches_torch(H, W, h, w, lead, seed):
    x = np.random.default_rng(seed).standard_normal((*lead, H, W))
    out = T.CenterCrop((h, w))(minitorch.tensor(x))
    ref = torch_center_crop(torch.from_numpy(x), h, w)
    assert tuple(out.shape) == (*lead, h, w)
    np.testing.assert_array_equal(np.asarray(out), ref.numpy())


def test_center_crop_offsets_round_half_to_even_and_pad_bottom_right():
    rows = np.arange(10)[:, None] * np.ones((1, 10), int)  # pixel value = its row
    first_row = {(6, 3): 2, (5, 4): 0, (7, 4): 2, (9, 4): 2, (10, 3): 4, (8, 1): 4, (4, 4): 0}
    for (H, h), top in first_row.items():
        out = T.CenterCrop((h, 1))(rows[:H, :1])
        assert out[0, 0] == top, f"H={H}, h={h}: top {out[0, 0]}, torchvision {top}"
    # larger than the image: zeros around, the odd one at the bottom/right
    out = T.CenterCrop((4, 5))(np.ones((1, 2), np.uint8))
    np.testing.assert_array_equal(out, [[0, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 0, 0],
                                        [0, 0, 0, 0, 0]])
    assert tuple(T.CenterCrop(3)(minitorch.zeros(2, 5, 5)).shape) == (2, 3, 3)
    assert tuple(T.CenterCrop([3])(np.zeros((5, 6, 3))).shape) == (3, 3, 3)


@pytest.mark.parametrize("mode", list(MODES))
def test_center_crop_of_a_pil_image(mode):
    img = pil_image(mode, h=8, w=11)
    out = T.CenterCrop((5, 6))(img)
    assert isinstance(out, Image.Image) and out.mode == mode and out.size == (6, 5)
    # torchvision crops a PIL image with Pillow's crop box (left, top, right, bottom)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(img.crop((2, 2, 8, 7))))
    big = T.CenterCrop((10, 12))(img)  # padded with zeros
    np.testing.assert_array_equal(np.asarray(big), T.CenterCrop((10, 12))(np.asarray(img)))


def test_center_crop_keeps_a_palette():
    pal = pil_image("RGB", 6, 6).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    out = T.CenterCrop(4)(pal)
    assert out.mode == "P" and out.getpalette() == pal.getpalette()
    np.testing.assert_array_equal(np.asarray(out.convert("RGB")),
                                  np.asarray(pal.convert("RGB"))[1:5, 1:5])


def test_center_crop_errors():
    with pytest.raises(ValueError, match="CenterCrop: size must be at least 1"):
        T.CenterCrop(0)
    with pytest.raises(TypeError, match="a PIL image or a Tensor"):
        T.CenterCrop(2)([[1, 2]])


# ---- random transforms, rotation, Normalize, a whole pipeline ----------------------------------
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_random_crop_and_flip_of_a_pil_image_match_the_array_path(mode):
    img = pil_image(mode, h=10, w=9, seed=3)
    for transform in (T.RandomCrop(5, padding=2, padding_mode="reflect"),
                      T.RandomCrop((12, 4), pad_if_needed=True, fill=7),
                      T.RandomHorizontalFlip(p=0.5)):
        for seed in range(4):
            minitorch.manual_seed(seed)
            out = transform(img)
            minitorch.manual_seed(seed)
            ref = transform(np.asarray(img))
            assert isinstance(out, Image.Image) and out.mode == mode
            np.testing.assert_array_equal(np.asarray(out), ref)
    flipped = T.RandomHorizontalFlip(p=1.0)(img)
    np.testing.assert_array_equal(np.asarray(flipped),
                                  np.asarray(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))


def test_random_rotation_of_a_pil_image_is_pillows_rotate():
    img = pil_image("RGB", 9, 9, seed=4)
    minitorch.manual_seed(5)
    out = T.RandomRotation(30, fill=10)(img)
    minitorch.manual_seed(5)
    angle = T.RandomRotation.get_params((-30.0, 30.0))
    ref = img.rotate(angle, Image.Resampling.NEAREST, fillcolor=(10, 10, 10))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))


def test_normalize_refuses_a_pil_image_as_torchvision():
    with pytest.raises(TypeError, match="apply ToTensor first"):
        T.Normalize([0.5], [0.5])(pil_image("L"))


def test_super_resolution_pipeline_on_a_pil_image():
    """pytorch/examples super_resolution: CenterCrop, Resize, ToTensor on a PIL image."""
    img = pil_image("RGB", 40, 50, seed=6)
    out = T.Compose([T.CenterCrop(32), T.Resize(32 // 4), T.ToTensor()])(img)
    ref = img.crop((9, 4, 41, 36)).resize((8, 8), Image.Resampling.BILINEAR)
    expected = np.asarray(ref).transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    assert out.dtype == minitorch.float32
    np.testing.assert_array_equal(np.asarray(out), expected)


def test_transforms_do_not_import_pillow():
    code = "import sys, minitorch.vision.transforms; print('PIL' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_to_pil_image_matches_torchs_byte_conversion_and_round_trips():
    x = np.random.default_rng(7).random((3, 4, 5)).astype(np.float32)
    img = T.ToPILImage()(minitorch.tensor(x))
    assert img.mode == "RGB" and img.size == (5, 4)
    ref = torch.from_numpy(x).mul(255).byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(np.asarray(img), ref)
    grey = np.random.default_rng(8).integers(0, 256, (6, 3), dtype=np.uint8)  # a dataset image
    back = T.ToTensor()(T.ToPILImage()(grey))
    assert T.ToPILImage()(grey).mode == "L"
    np.testing.assert_array_equal(np.asarray(back), np.asarray(T.ToTensor()(grey)))
    rgba = np.random.default_rng(9).integers(0, 256, (2, 3, 4), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(rgba)), rgba)
    with pytest.raises(ValueError, match="> 4 channels. Got 5"):
        T.ToPILImage()(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(TypeError, match="Tensor or ndarray. Got list"):
        T.ToPILImage()([[0]])
