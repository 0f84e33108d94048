"""Turn one uploaded image of any format, mode or size into a model input, or
refuse it with a message a person can act on."""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 50 * 1024 * 1024  # larger files are refused before decoding
MAX_PIXELS = 50_000_000  # 7000×7000 (49 MP) converts; 10000×10000 is refused from its header alone
MIN_SIDE = 8


class ImageError(ValueError):
    """The upload cannot be used; the message says why, in words for the user."""


def _open(source) -> Image.Image:
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, (bytes, bytearray)):
        if len(source) > MAX_BYTES:
            raise ImageError(f"the file is {len(source) / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
        data = bytes(source)
        name = "the upload"
    else:
        path = Path(os.fspath(source))
        if not path.is_file():
            raise ImageError(f"no file at {path.name!r}")
        if path.stat().st_size > MAX_BYTES:
            raise ImageError(f"{path.name} is {path.stat().st_size / 2**20:.0f} MB; the limit is {MAX_BYTES // 2**20} MB")
        data = path.read_bytes()
        name = path.name
    if not data:
        raise ImageError(f"{name} is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        if isinstance(err, UnidentifiedImageError):
            raise ImageError(f"{name} is not an image that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP …)") from None
        raise ImageError(f"{name} is far too large to decode safely") from None
    except OSError as err:
        raise ImageError(f"{name} could not be read as an image: {err}") from None


HIGH_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


def _centre_square(image: Image.Image) -> Image.Image:
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side)) if width != height else image


def _high_bit_to_l(image: Image.Image, target: int) -> Image.Image:
    """16/32-bit gray -> 8-bit "L", scaled by its real range (PIL's convert("L") would clip at 255). Averaged in
    k×k blocks down to about 4× the target side first, in float32, so a 7000×7000 16-bit image never becomes a
    full-size float array."""
    values = np.asarray(image)
    k = max(1, min(values.shape) // (4 * target))
    if k > 1:
        h, w = values.shape[0] // k * k, values.shape[1] // k * k
        values = values[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3), dtype=np.float32)
    else:
        values = values.astype(np.float32)
    if image.mode == "F":
        lo, hi = float(values.min()), float(values.max())
        values = (values - lo) / (hi - lo if hi > lo else 1.0)
    else:
        values = values / (65535.0 if values.max() > 255 else 255.0)
    return Image.fromarray(np.clip(values * 255 + 0.5, 0, 255).astype(np.uint8), "L")


def _reduce(image: Image.Image, target: int) -> Image.Image:
    """Shrink by a whole factor to about 4× the target side before any conversion (box filter; nearest for
    palette and 1-bit images, whose pixels are indices), so conversions work on a small image."""
    k = max(1, min(image.size) // (4 * target))
    if k == 1:
        return image
    if image.mode in ("P", "1"):
        return image.resize((image.width // k, image.height // k), Image.Resampling.NEAREST)
    return image.reduce(k)


def _to_rgb_or_l(image: Image.Image) -> Image.Image:
    """Any PIL mode -> "RGB" or "L", keeping what a person sees."""
    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        # Transparent pixels become white, as an image viewer shows them on a white page.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV, …


def load_image(source, size: int = 32, channels: int = 3) -> torch.Tensor:
    """An image file (path or bytes) or PIL image -> (channels, size, size) float tensor in [-1, 1].

    The image is centre-cropped to a square, shrunk by a whole factor to about 4× `size` in its own mode, then
    converted and resized with a Lanczos filter: memory stays near the decoded file's own size. Animated images
    use their first frame. Raises ImageError with a clear message.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if not 2 <= size <= 512:
        raise ValueError(f"size must be from 2 to 512, got {size}")
    image = _open(source)
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageError(f"the image is {width}×{height} pixels ({width * height / 1e6:.0f} MP); "
                         f"the limit is {MAX_PIXELS / 1e6:.0f} MP")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"the image is only {width}×{height} pixels; it needs at least {MIN_SIDE}×{MIN_SIDE}")
    try:
        image.seek(0)
        image.draft("RGB", (size * 4, size * 4))  # JPEG: decode at reduced scale, much faster for photos
        image = ImageOps.exif_transpose(image)
        image.load()
        image = _centre_square(image)
        if image.mode in HIGH_BIT_MODES:
            image = _high_bit_to_l(image, size)
        else:
            image = _reduce(image, size)
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"the image file is truncated or corrupt ({err})") from None
    image = _to_rgb_or_l(image)
    image = image.convert("L" if channels == 1 else "RGB")
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    array = np.asarray(image, dtype=np.float32).reshape(size, size, channels)
    return torch.from_numpy(array / 127.5 - 1.0).permute(2, 0, 1).contiguous()  # (C, H, W)
