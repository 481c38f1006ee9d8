"""Reading and writing image files, as ``torchvision.io``.

    img = read_image("cat.png")                           # uint8 (C, H, W), the file's channels
    img = read_image("cat.jpg", ImageReadMode.RGB)        # always 3 channels
    img = decode_image(read_file("cat.png"))              # from the file's bytes
    write_png(img, "copy.png")

Decoding goes through Pillow when it is installed (every format Pillow reads: PNG, JPEG, GIF,
BMP, WebP, ...). Without Pillow, 8-bit PNGs (grey, grey+alpha, RGB, RGBA; not interlaced) are
decoded by our own small NumPy decoder (:func:`decode_png_array`; matplotlib cannot stand in:
its reader is Pillow); anything else raises ImportError naming Pillow and the file. Encoding a
PNG needs only NumPy and zlib; a JPEG needs Pillow.

Modes (``ImageReadMode``, torchvision's values): ``UNCHANGED`` keeps the file's channels (1 grey,
2 grey+alpha, 3 RGB, 4 RGBA; a palette image becomes RGB, or RGBA when it has transparency);
``GRAY``, ``GRAY_ALPHA``, ``RGB``, ``RGB_ALPHA`` convert:

* colour → grey: ITU-R 601 luma in integers, ``L = (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16``
  (0.299 R + 0.587 G + 0.114 B, rounded: Pillow's ``convert("L")``, libjpeg's weights);
* grey → colour: the grey level in R, G and B;
* alpha: dropped when the mode has none (no compositing, as torchvision), 255 when it is added.

PNG's bytes, for :func:`decode_png_array` and :func:`encode_png`: an 8-byte signature, then chunks
(length, type, data, CRC-32). ``IHDR`` holds width, height, bit depth, colour type (0 grey, 2 RGB,
4 grey+alpha, 6 RGBA) and interlacing; the ``IDAT`` chunks together are one zlib stream of rows,
each a filter byte followed by the row's bytes. The filters predict a byte from its left (a),
upper (b) and upper-left (c) neighbours, and the file stores byte − prediction mod 256:
0 None (0), 1 Sub (a), 2 Up (b), 3 Average (⌊(a + b)/2⌋), 4 Paeth (whichever of a, b, c is
closest to a + b − c, ties in that order). We write filter 0 only.
"""
from __future__ import annotations

import enum
import os
import struct
import zlib

import numpy as np

from ..tensor import Tensor

__all__ = ["ImageReadMode", "read_image", "decode_image", "decode_png", "decode_jpeg",
           "read_file", "write_file", "encode_png", "write_png", "encode_jpeg", "write_jpeg",
           "decode_png_array"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PILLOW_HINT = "pip install pillow"


class ImageReadMode(enum.Enum):
    """How many channels a decoded image gets (torchvision's names and values)."""
    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4  # torchvision's alias of RGB_ALPHA


_CHANNELS = {ImageReadMode.GRAY: 1, ImageReadMode.GRAY_ALPHA: 2, ImageReadMode.RGB: 3,
             ImageReadMode.RGB_ALPHA: 4}


class ImageDecodeError(ValueError):
    """Bytes that are not an image this library can decode; the message names the source."""


def _mode(mode) -> ImageReadMode:
    if isinstance(mode, str):  # torchvision accepts "RGB", "GRAY", ... too
        try:
            return ImageReadMode[mode.upper()]
        except KeyError:
            pass
    elif isinstance(mode, ImageReadMode):
        return mode
    names = ", ".join(m.name for m in ImageReadMode)
    raise ValueError(f"mode must be an ImageReadMode ({names}), got {mode!r}")


# ---- the NumPy-only PNG decoder -------------------------------------------------------------
def _unfilter(raw: np.ndarray, height: int, stride: int, bpp: int, where: str) -> np.ndarray:
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth) → (height, stride) uint8."""
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: a running sum per channel, mod 256
            cur = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) & 255
        elif kind == 2:  # Up
            cur = (line + prev) & 255
        elif kind in (3, 4):  # Average, Paeth: each pixel needs its reconstructed left neighbour
            cur = line.copy()
            for x in range(0, stride, bpp):
                a = cur[x - bpp:x] if x else np.zeros(bpp, np.int32)
                b = prev[x:x + bpp]
                if kind == 3:
                    pred = (a + b) >> 1
                else:
                    c = prev[x - bpp:x] if x else np.zeros(bpp, np.int32)
                    p = a + b - c
                    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
                    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                cur[x:x + bpp] = (cur[x:x + bpp] + pred) & 255
        else:
            raise ImageDecodeError(f"{where}: corrupt PNG (row filter {kind})")
        out[y] = cur
        prev = cur
    return out


def decode_png_array(data: bytes, where: str = "PNG") -> np.ndarray:
    """An 8-bit PNG (grey, grey+alpha, RGB or RGBA; not interlaced) → (C, H, W) uint8 with the
    file's channels, with NumPy and zlib only. Other PNGs raise ImportError naming Pillow;
    broken ones ImageDecodeError. ``where`` names the source in messages."""
    if data[:8] != _PNG_SIGNATURE:
        raise ImageDecodeError(f"{where}: not a PNG file")
    pos, header, chunks = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None or not chunks:
        raise ImageDecodeError(f"{where}: corrupt PNG (no IHDR or IDAT chunk)")
    width, height, depth, color, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ImportError(f"{where}: this PNG (bit depth {depth}, colour type {color}"
                          f"{', interlaced' if interlace else ''}) needs Pillow: {_PILLOW_HINT}")
    try:
        raw = np.frombuffer(zlib.decompress(b"".join(chunks)), dtype=np.uint8)
    except zlib.error as e:
        raise ImageDecodeError(f"{where}: corrupt PNG ({e})") from None
    stride = width * channels
    if raw.size != height * (stride + 1):
        raise ImageDecodeError(f"{where}: corrupt PNG (image data of {raw.size} bytes for "
                               f"{width}x{height})")
    pixels = _unfilter(raw, height, stride, channels, where).reshape(height, width, channels)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


# ---- decoding ---------------------------------------------------------------------------------
def _pillow():
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _decode_with_pillow(Image, data: bytes, where: str) -> np.ndarray:
    import io
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode not in ("L", "LA", "RGB", "RGBA"):
                bands = im.getbands()
                im = im.convert("RGBA" if "A" in bands else "L" if len(bands) == 1 else "RGB")
            arr = np.asarray(im)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise ImageDecodeError(f"{where}: not an image Pillow can read ({e})") from None
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def _decode(data: bytes, where: str) -> np.ndarray:
    """(C, H, W) uint8 with the file's channels."""
    Image = _pillow()
    if Image is not None:
        return _decode_with_pillow(Image, data, where)
    if data[:8] == _PNG_SIGNATURE:
        return decode_png_array(data, where)
    raise ImportError(f"{where}: decoding this image (not a PNG) needs Pillow: {_PILLOW_HINT} "
                      f"(8-bit PNGs are decoded without it)")


def _luma(rgb: np.ndarray) -> np.ndarray:
    """(3, H, W) uint8 → (1, H, W) uint8, ITU-R 601 in integers (Pillow's rounding)."""
    r, g, b = (c.astype(np.uint32) for c in rgb)
    return ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16).astype(np.uint8)[None]


def _convert(pixels: np.ndarray, mode: ImageReadMode) -> np.ndarray:
    """(c, H, W) uint8 with c in 1..4 → the channels ``mode`` asks for."""
    if mode is ImageReadMode.UNCHANGED:
        return pixels
    want = _CHANNELS[mode]
    have = pixels.shape[0]
    if have == want:
        return pixels
    colour = pixels[:3] if have >= 3 else None
    grey = pixels[:1] if have <= 2 else _luma(colour)
    alpha = pixels[-1:] if have in (2, 4) else np.full_like(pixels[:1], 255)
    if want in (1, 2):
        parts = [grey] if want == 1 else [grey, alpha]
    else:
        colour = colour if colour is not None else np.repeat(grey, 3, axis=0)
        parts = [colour] if want == 3 else [colour, alpha]
    return np.ascontiguousarray(np.concatenate(parts, axis=0))


def _bytes_of(input, who: str) -> tuple:
    """(bytes, where) from a 1-d uint8 Tensor (torchvision's form), bytes, or a path."""
    if isinstance(input, (str, os.PathLike)):
        path = os.fspath(input)
        return _read_bytes(path), path
    if isinstance(input, (bytes, bytearray, memoryview)):
        return bytes(input), "image bytes"
    if isinstance(input, Tensor):
        if input.dtype.name != "uint8" or input.ndim != 1:
            raise ValueError(f"{who}: expects a 1-d uint8 tensor of the file's bytes, got "
                             f"{input.dtype.name} of shape {tuple(input.shape)}")
        return np.asarray(input.detach().cpu()).tobytes(), "image bytes"
    raise TypeError(f"{who}: expects a 1-d uint8 tensor, bytes or a path, got "
                    f"{type(input).__name__}")


def _read_bytes(path: str) -> bytes:
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path}: is a folder, not an image file")
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None


def _to_tensor(pixels: np.ndarray) -> Tensor:
    return Tensor._make(np.ascontiguousarray(pixels))


def _decode_image(data: bytes, where: str, mode, apply_exif_orientation: bool) -> Tensor:
    mode = _mode(mode)
    if apply_exif_orientation:
        Image = _pillow()
        if Image is None:
            raise ImportError(f"{where}: apply_exif_orientation=True needs Pillow: {_PILLOW_HINT}")
        import io

        from PIL import ImageOps
        try:
            with Image.open(io.BytesIO(data)) as im:
                im = ImageOps.exif_transpose(im)
                buffer = io.BytesIO()
                im.save(buffer, format="PNG")
        except (OSError, ValueError) as e:
            raise ImageDecodeError(f"{where}: not an image Pillow can read ({e})") from None
        data = buffer.getvalue()
    return _to_tensor(_convert(_decode(data, where), mode))


def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
                 ) -> Tensor:
    """``decode_image(input, mode=ImageReadMode.UNCHANGED)``: an image's bytes (a 1-d uint8
    tensor as ``read_file`` gives, or a path) → uint8 (C, H, W). See the module docstring for
    the modes. ``apply_exif_orientation=True`` rotates/flips by the EXIF tag (needs Pillow)."""
    data, where = _bytes_of(input, "decode_image")
    return _decode_image(data, where, mode, apply_exif_orientation)


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False) -> Tensor:
    """``read_image(path, mode=ImageReadMode.UNCHANGED)``: a PNG/JPEG (any format Pillow reads;
    8-bit PNG without Pillow) → uint8 tensor (C, H, W). Errors name the file."""
    path = os.fspath(path)
    return _decode_image(_read_bytes(path), path, mode, apply_exif_orientation)


def decode_png(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
               ) -> Tensor:
    """``decode_png(input, mode)``: as :func:`decode_image`, for PNG bytes (refuses others)."""
    data, where = _bytes_of(input, "decode_png")
    if data[:8] != _PNG_SIGNATURE:
        raise ImageDecodeError(f"{where}: not a PNG file")
    return _decode_image(data, where, mode, apply_exif_orientation)


def decode_jpeg(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation: bool = False
                ) -> Tensor:
    """``decode_jpeg(input, mode)``: as :func:`decode_image`, for JPEG bytes (needs Pillow)."""
    data, where = _bytes_of(input, "decode_jpeg")
    if data[:2] != b"\xff\xd8":
        raise ImageDecodeError(f"{where}: not a JPEG file")
    return _decode_image(data, where, mode, apply_exif_orientation)


def read_file(path) -> Tensor:
    """``read_file(path)``: the file's bytes as a 1-d uint8 tensor."""
    path = os.fspath(path)
    return _to_tensor(np.frombuffer(_read_bytes(path), dtype=np.uint8).copy())


def write_file(filename, data: Tensor) -> None:
    """``write_file(filename, data)``: write a 1-d uint8 tensor's bytes to a file."""
    raw, _ = _bytes_of(data, "write_file")
    with open(os.fspath(filename), "wb") as f:
        f.write(raw)


# ---- encoding ---------------------------------------------------------------------------------
def _image_array(input, who: str) -> np.ndarray:
    """(C, H, W) uint8 NumPy array from a tensor, C in 1..4 (1 or 3 for JPEG: checked there)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expects a uint8 tensor (C, H, W), got {type(input).__name__}")
    if input.dtype.name != "uint8" or input.ndim != 3 or input.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"{who}: expects a uint8 tensor (C, H, W) with C in 1..4, got "
                         f"{input.dtype.name} of shape {tuple(input.shape)}")
    return np.asarray(input.detach().cpu())


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + \
        struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def encode_png(input: Tensor, compression_level: int = 6) -> Tensor:
    """``encode_png(input, compression_level=6)``: uint8 (C, H, W), C = 1 (grey), 2 (grey+alpha),
    3 (RGB) or 4 (RGBA) → the PNG file's bytes as a 1-d uint8 tensor (NumPy and zlib only)."""
    pixels = _image_array(input, "encode_png")
    if not 0 <= compression_level <= 9:
        raise ValueError(f"encode_png: compression_level must be in 0..9, got "
                         f"{compression_level}")
    channels, height, width = pixels.shape
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = pixels.transpose(1, 2, 0).reshape(height, width * channels)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1)  # filter 0 per row
    data = (_PNG_SIGNATURE
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), compression_level))
            + _chunk(b"IEND", b""))
    return _to_tensor(np.frombuffer(data, dtype=np.uint8).copy())


def write_png(input: Tensor, filename, compression_level: int = 6) -> None:
    """``write_png(input, filename, compression_level=6)``: write uint8 (C, H, W) as a PNG."""
    write_file(filename, encode_png(input, compression_level))


def encode_jpeg(input: Tensor, quality: int = 75) -> Tensor:
    """``encode_jpeg(input, quality=75)``: uint8 (C, H, W) with C = 1 or 3 → the JPEG file's
    bytes as a 1-d uint8 tensor (needs Pillow)."""
    import io
    pixels = _image_array(input, "encode_jpeg")
    if pixels.shape[0] not in (1, 3):
        raise ValueError(f"encode_jpeg: a JPEG has 1 or 3 channels, got an image of shape "
                         f"{tuple(pixels.shape)}")
    if not 1 <= quality <= 100:
        raise ValueError(f"encode_jpeg: quality must be in 1..100, got {quality}")
    Image = _pillow()
    if Image is None:
        raise ImportError(f"encode_jpeg needs Pillow: {_PILLOW_HINT}")
    hwc = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(hwc)).save(buffer, format="JPEG", quality=quality)
    return _to_tensor(np.frombuffer(buffer.getvalue(), dtype=np.uint8).copy())


def write_jpeg(input: Tensor, filename, quality: int = 75) -> None:
    """``write_jpeg(input, filename, quality=75)``: write uint8 (C, H, W) as a JPEG (Pillow)."""
    write_file(filename, encode_jpeg(input, quality))
