import base64
import io

import numpy as np
import pytest
from PIL import Image

from hwr.data import images
from hwr.errors import InvalidImageError


def word_image(width=200, height=50, mode="L", ink=0, paper=255):
    image = Image.new("L", (width, height), paper)
    image.paste(ink, (20, 10, width - 20, height - 10))  # a dark block where the word would be
    return image.convert(mode)


def noisy_image():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, size=(60, 200), dtype=np.uint8))


def png_b64(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_output_shape_dtype_and_ink_polarity():
    out = images.preprocess(word_image())
    assert out.shape == (images.IMAGE_HEIGHT, images.IMAGE_WIDTH) and out.dtype == np.uint8
    assert out.max() == 255  # dark strokes become high ink
    assert out[0, 0] == 0  # white paper becomes 0


def test_aspect_ratio_kept_and_padding_is_paper():
    out = images.preprocess(word_image(width=100, height=100))  # square: 32 px wide after resize
    assert out[:, 40:].max() == 0
    assert out[:, :32].max() == 255


def test_wide_image_fills_the_width():
    out = images.preprocess(word_image(width=2000, height=50))  # ink from x=20 to x=1980
    assert out[:, 5].max() > 128 and out[:, images.IMAGE_WIDTH - 6].max() > 128
    assert out[:8].max() == 0 and out[-8:].max() == 0  # the flat word sits in the vertical middle


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "LA", "I;16", "1"])
def test_every_common_mode_gives_the_same_picture(mode):
    reference = images.preprocess(word_image())
    out = images.preprocess(word_image(mode=mode))
    assert np.abs(out.astype(int) - reference.astype(int)).max() <= 2


def test_transparent_background_counts_as_paper():
    image = Image.new("RGBA", (200, 50), (0, 0, 0, 0))  # transparent black
    image.paste((0, 0, 0, 255), (20, 10, 180, 40))
    out = images.preprocess(image)
    assert out[0, 0] == 0 and out.max() == 255


def test_faint_scan_is_stretched_to_full_contrast():
    out = images.preprocess(word_image(ink=150, paper=200))
    assert out.max() == 255 and out.min() == 0


def test_base64_round_trip():
    image = word_image()
    decoded = images.decode_base64_image(png_b64(image))
    assert np.array_equal(images.preprocess(decoded), images.preprocess(image))


@pytest.mark.parametrize(
    "payload, message",
    [
        ("not base64 at all!", "not valid base64"),
        ("", "empty image data"),
        (base64.b64encode(b"hello, not an image").decode(), "not an image format"),
        (png_b64(noisy_image())[:4000], "damaged or truncated"),
    ],
)
def test_bad_payloads_get_a_named_error(payload, message):
    with pytest.raises(InvalidImageError, match=message):
        images.decode_base64_image(payload, name="row 3")


def test_non_string_payload_is_refused():
    with pytest.raises(InvalidImageError, match="expected a base64 string"):
        images.decode_base64_image(12345)


def test_decompression_bomb_is_refused_before_decoding():
    # A PNG header claiming 30,000 x 30,000 pixels.
    big = Image.new("1", (30000, 30000))
    buffer = io.BytesIO()
    big.save(buffer, format="PNG")
    with pytest.raises(InvalidImageError, match="larger than|too large"):
        images.open_image(buffer.getvalue())


@pytest.mark.parametrize("size", [(1, 1), (1, 40), (40, 1)])
def test_one_pixel_images_are_refused(size):
    with pytest.raises(InvalidImageError, match="too small"):
        images.preprocess(Image.new("L", size, 0))


def test_oversized_payload_is_refused_before_decoding():
    with pytest.raises(InvalidImageError, match="larger than the"):
        images.open_image(b"\x89PNG" + bytes(images.MAX_BYTES))


@pytest.mark.parametrize("size", [(3000, 40), (60, 3000)])
def test_very_wide_and_very_tall_images_are_read(size):
    out = images.preprocess(word_image(*size))
    assert out.shape == (images.IMAGE_HEIGHT, images.IMAGE_WIDTH)
    assert out.max() > 100  # the strokes survive the shrink, even when thinner than a pixel
