"""``minitorch.vision.io`` (``torchvision.io``): read_image/decode_image, modes, PNG/JPEG writing.

torchvision is not installed (and is no dependency), so the reference is Pillow, which writes the
test files and whose decoded pixels and ``convert`` results are the expected values; the
NumPy-only PNG decoder (used without Pillow) must give the same pixels as Pillow for every
filter type Pillow's encoder picks and for every colour type it handles.
"""
import io as std_io
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minitorch
from minitorch.vision import io
from minitorch.vision.io import ImageReadMode

Image = pytest.importorskip("PIL.Image")

PIL_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


def random_pixels(rng, mode, h, w, smooth=False):
    c = PIL_MODES[mode]
    if smooth:  # gradients make Pillow's encoder pick the Sub/Up/Average/Paeth filters
        base = np.add.outer(np.arange(h) * 7, np.arange(w) * 3)
        arr = np.stack([base + 40 * k for k in range(c)], axis=-1)
        arr = ((arr + rng.integers(0, 3, arr.shape)) % 256).astype(np.uint8)
    else:
        arr = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    return arr[:, :, 0] if c == 1 else arr


def write(tmp_path, arr, mode, name="img.png", **save):
    path = tmp_path / name
    Image.fromarray(arr, mode).save(path, **save)
    return path


def chw(arr):
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("mode", list(PIL_MODES))
def test_read_image_unchanged_gives_the_files_pixels(tmp_path, mode, smooth):
    arr = random_pixels(np.random.default_rng(0), mode, 9, 13, smooth)
    path = write(tmp_path, arr, mode)
    img = io.read_image(str(path))
    assert isinstance(img, minitorch.Tensor) and img.dtype == minitorch.uint8
    assert tuple(img.shape) == (PIL_MODES[mode], 9, 13)
    np.testing.assert_array_equal(img.numpy(), chw(arr))
    # pathlib paths, the bytes as a tensor, and torchvision's decode_png agree
    np.testing.assert_array_equal(io.read_image(path).numpy(), chw(arr))
    np.testing.assert_array_equal(io.decode_image(io.read_file(path)).numpy(), chw(arr))
    np.testing.assert_array_equal(io.decode_png(io.read_file(path)).numpy(), chw(arr))


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("mode", list(PIL_MODES))
def test_numpy_decoder_without_pillow_equals_pillow(tmp_path, monkeypatch, mode, smooth):
    """With PIL unimportable the NumPy decoder reads the PNG: the same pixels as Pillow's."""
    arr = random_pixels(np.random.default_rng(1), mode, 11, 6, smooth)
    path = write(tmp_path, arr, mode, optimize=smooth)
    monkeypatch.setitem(sys.modules, "PIL", None)
    img = io.read_image(path)
    np.testing.assert_array_equal(img.numpy(), chw(arr))


@settings(max_examples=15, deadline=None)
@given(h=st.integers(1, 12), w=st.integers(1, 12), mode=st.sampled_from(list(PIL_MODES)),
       seed=st.integers(0, 2**16), smooth=st.booleans())
def test_numpy_decoder_hypothesis(h, w, mode, seed, smooth):
    arr = random_pixels(np.random.default_rng(seed), mode, h, w, smooth)
    buffer = std_io.BytesIO()
    Image.fromarray(arr, mode).save(buffer, format="PNG")
    np.testing.assert_array_equal(io.decode_png_array(buffer.getvalue()), chw(arr))


@pytest.mark.parametrize("without_pillow", [False, True])
@pytest.mark.parametrize("file_mode", list(PIL_MODES))
@pytest.mark.parametrize("read_mode", ["GRAY", "GRAY_ALPHA", "RGB", "RGB_ALPHA"])
def test_modes_convert_like_pillow(tmp_path, monkeypatch, file_mode, read_mode, without_pillow):
    """Each mode's pixels equal Pillow's ``convert`` (luma for grey; alpha dropped or 255)."""
    arr = random_pixels(np.random.default_rng(2), file_mode, 5, 7)
    path = write(tmp_path, arr, file_mode)
    pil_mode = {"GRAY": "L", "GRAY_ALPHA": "LA", "RGB": "RGB", "RGB_ALPHA": "RGBA"}[read_mode]
    with Image.open(path) as im:
        expected = chw(np.asarray(im.convert(pil_mode)))
    if without_pillow:
        monkeypatch.setitem(sys.modules, "PIL", None)
    for mode in (getattr(ImageReadMode, read_mode), read_mode):
        img = io.read_image(path, mode=mode)
        np.testing.assert_array_equal(img.numpy(), expected, err_msg=f"{file_mode}->{read_mode}")


def test_jpeg_and_palette_images(tmp_path):
    rng = np.random.default_rng(3)
    arr = random_pixels(rng, "RGB", 16, 16, smooth=True)
    path = write(tmp_path, arr, "RGB", "img.jpg", quality=90)
    with Image.open(path) as im:
        expected = chw(np.asarray(im))
        expected_grey = chw(np.asarray(im.convert("L")))
    np.testing.assert_array_equal(io.read_image(path).numpy(), expected)
    np.testing.assert_array_equal(io.read_image(path, ImageReadMode.GRAY).numpy(), expected_grey)
    np.testing.assert_array_equal(io.decode_jpeg(io.read_file(path)).numpy(), expected)
    # a palette PNG decodes to RGB (RGBA when it has transparency), as libpng expands it
    pal = Image.fromarray(arr, "RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    pal.save(tmp_path / "pal.png")
    np.testing.assert_array_equal(io.read_image(tmp_path / "pal.png").numpy(),
                                  chw(np.asarray(pal.convert("RGB"))))
    pal.save(tmp_path / "palt.png", transparency=0)
    assert io.read_image(tmp_path / "palt.png").shape == (4, 16, 16)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_write_png_round_trips_and_pillow_reads_it(tmp_path, channels):
    pixels = np.random.default_rng(4).integers(0, 256, (channels, 6, 9), dtype=np.uint8)
    img = minitorch.from_numpy(pixels)
    io.write_png(img, tmp_path / "out.png", compression_level=9)
    with Image.open(tmp_path / "out.png") as im:
        np.testing.assert_array_equal(chw(np.asarray(im)), pixels)
    np.testing.assert_array_equal(io.decode_png_array(io.encode_png(img).numpy().tobytes()),
                                  pixels)


def test_write_jpeg(tmp_path):
    pixels = np.full((3, 8, 8), 128, dtype=np.uint8)
    io.write_jpeg(minitorch.from_numpy(pixels), tmp_path / "out.jpg", quality=95)
    back = io.read_image(tmp_path / "out.jpg")
    assert back.shape == (3, 8, 8)
    assert np.abs(back.numpy().astype(int) - 128).max() <= 2  # lossy, a flat image survives


def test_errors_name_the_file(tmp_path, monkeypatch):
    missing = tmp_path / "missing.png"
    with pytest.raises(FileNotFoundError, match="missing.png"):
        io.read_image(missing)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        io.read_image(tmp_path)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="junk.png: not an image Pillow can read"):
        io.read_image(junk)
    with pytest.raises(ValueError, match="mode must be an ImageReadMode"):
        io.read_image(junk, mode="CMYK")
    with pytest.raises(ValueError, match=r"1-d uint8 tensor .* float32 of shape \(3,\)"):
        io.decode_image(minitorch.zeros(3))
    with pytest.raises(ValueError, match="not a JPEG"):
        io.decode_jpeg(io.read_file(write(tmp_path, np.zeros((2, 2), np.uint8), "L")))
    with pytest.raises(ValueError, match=r"uint8 tensor \(C, H, W\).*shape \(5, 2, 2\)"):
        io.write_png(minitorch.from_numpy(np.zeros((5, 2, 2), np.uint8)), tmp_path / "x.png")
    with pytest.raises(ValueError, match="1 or 3 channels"):
        io.encode_jpeg(minitorch.from_numpy(np.zeros((4, 2, 2), np.uint8)))

    # without Pillow: a JPEG, a 16-bit PNG and a corrupt PNG, each named
    jpg = write(tmp_path, np.zeros((4, 4, 3), np.uint8), "RGB", "photo.jpg")
    deep = tmp_path / "deep.png"
    Image.fromarray(np.zeros((4, 4), np.uint16)).save(deep)
    broken = tmp_path / "broken.png"
    broken.write_bytes(write(tmp_path, np.zeros((4, 4), np.uint8), "L").read_bytes()[:40])
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="photo.jpg.*needs Pillow: pip install pillow"):
        io.read_image(jpg)
    with pytest.raises(ImportError, match="deep.png: this PNG \\(bit depth 16.*needs Pillow"):
        io.read_image(deep)
    with pytest.raises(ValueError, match="broken.png: corrupt PNG"):
        io.read_image(broken)
    with pytest.raises(ImportError, match="encode_jpeg needs Pillow"):
        io.encode_jpeg(minitorch.from_numpy(np.zeros((3, 2, 2), np.uint8)))


def test_vision_does_not_import_inference():
    """The layering: inference uses vision's PNG decoder, never the other way round."""
    import pathlib
    import re
    root = pathlib.Path(minitorch.vision.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"(from|import)\s+(\.\.+|minitorch\.)inference", text), source
