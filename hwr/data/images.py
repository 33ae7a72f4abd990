"""The ONE preprocessing function, shared by training and serving so they never drift apart.

A word image becomes a fixed-size uint8 array of "ink": 0 is paper, 255 is the darkest stroke.
The word keeps its aspect ratio, sits at the left, and the rest is padded with paper (0), so
white-paper scans and the padding look alike to the model.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hwr.errors import InvalidImageError

IMAGE_HEIGHT = 32
IMAGE_WIDTH = 128

# Larger images than this are refused before decoding (decompression bombs); a word scan at
# 300 dpi is a few hundred thousand pixels.
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
MAX_BYTES = 10 * 1024 * 1024  # one encoded word image; a 300 dpi PNG of a word is well under 1 MB
MIN_SIDE = 2  # a 1-pixel image holds no word


def to_grayscale(image: Image.Image) -> Image.Image:
    """Any mode (palette, alpha, 16-bit, colour) to 8-bit gray on white paper."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(image, dtype=np.float64)
        top = arr.max() or 1.0
        return Image.fromarray((arr / top * 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    return image.convert("L")


def stretch_contrast(gray: Image.Image) -> Image.Image:
    """Darkest pixel to black, lightest to white: faint pencil and gray paper look like the rest."""
    arr = np.asarray(gray, dtype=np.float32)
    lo, hi = float(arr.min()), float(arr.max())
    if hi - lo < 1:
        return gray
    return Image.fromarray(np.rint((arr - lo) * (255.0 / (hi - lo))).astype(np.uint8), mode="L")


def scale_to(size: tuple[int, int], height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH) -> float:
    """How much preprocess scales an image of `size` (width, height): as large as fits the canvas."""
    return min(height / size[1], width / size[0])


def preprocess(image: Image.Image, height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH) -> np.ndarray:
    """A PIL image to a (height, width) uint8 ink array; the model's only input format."""
    return to_canvas(normalised(image), height, width)


def normalised(image: Image.Image) -> Image.Image:
    """preprocess's first half: an image large enough to hold a word, as 8-bit gray from black to white."""
    if image.width < MIN_SIDE or image.height < MIN_SIDE:
        raise InvalidImageError(f"image is {image.width}x{image.height} pixels: too small to hold a word")
    return stretch_contrast(to_grayscale(image))


def to_canvas(gray: Image.Image, height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH) -> np.ndarray:
    """preprocess's second half: a normalised image scaled into the canvas, as ink."""
    scale = scale_to(gray.size, height, width)
    new_size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    resized = gray.resize(new_size, Image.Resampling.BILINEAR)
    canvas = np.zeros((height, width), dtype=np.uint8)
    top = (height - new_size[1]) // 2
    canvas[top : top + new_size[1], : new_size[0]] = 255 - np.asarray(resized, dtype=np.uint8)
    return canvas


def open_image(data: bytes, name: str = "image") -> Image.Image:
    """Decode image bytes, turning every way this can fail into an InvalidImageError."""
    if len(data) > MAX_BYTES:
        raise InvalidImageError(f"{name}: {len(data):,} bytes is larger than the {MAX_BYTES:,} allowed for one image")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise InvalidImageError(
                f"{name}: {image.width}x{image.height} pixels is larger than the {MAX_PIXELS:,} allowed"
            )
        image.load()
        return image
    except InvalidImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidImageError(f"{name}: image is too large ({exc})") from None
    except UnidentifiedImageError:
        raise InvalidImageError(f"{name}: not an image format that can be read (PNG, JPEG, TIFF, ...)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidImageError(f"{name}: image data is damaged or truncated ({exc})") from None


def decode_base64_image(text: str, name: str = "image") -> Image.Image:
    if not isinstance(text, str):
        raise InvalidImageError(f"{name}: expected a base64 string, got {type(text).__name__}")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidImageError(f"{name}: not valid base64") from None
    if not data:
        raise InvalidImageError(f"{name}: empty image data")
    return open_image(data, name)


def load_file(path: str | Path, height: int = IMAGE_HEIGHT, width: int = IMAGE_WIDTH) -> np.ndarray:
    """Read and preprocess an image file."""
    path = Path(path)
    return preprocess(open_image(path.read_bytes(), str(path)), height, width)


def encode_png_base64(path_or_array: str | Path | np.ndarray) -> str:
    """A file's bytes, or an array saved as PNG, as base64 text (for requests and input examples)."""
    if isinstance(path_or_array, np.ndarray):
        buffer = io.BytesIO()
        Image.fromarray(path_or_array).save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        data = Path(path_or_array).read_bytes()
    return base64.b64encode(data).decode("ascii")
