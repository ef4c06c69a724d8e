"""Photos -> the training domain: synthetic photos made here must come out as the dataset's images look."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from bakeoff.data import load_dataset
from bakeoff.data.domain import photo_domain
from bakeoff.data.pixels import normalize, normalize_images
from bakeoff.data.photos.preprocess import PhotoError, model_view, open_photo

FASHION = {"dataset": "fashion-mnist", "in_chans": 1, "img_size": 28, "mean": [0.286], "std": [0.353],
           "background": "dark", "object_fill": 1.0}
MNIST = {**FASHION, "dataset": "mnist", "object_fill": 0.714}


def product_photo(h=240, w=320, box=(30, 20, 130, 80), seed=0) -> np.ndarray:
    """A phone-style shot: a dark object (top, left, bottom, right) on light, noisy, unevenly lit paper."""
    rng = np.random.default_rng(seed)
    shade = np.linspace(215, 240, w)[None, :]  # light falls off across the sheet
    a = shade + rng.normal(0, 4, size=(h, w))
    top, left, bottom, right = box
    a[top:bottom, left:right] = 40 + rng.normal(0, 4, size=(bottom - top, right - left))
    return np.clip(a, 0, 255).astype(np.uint8)


def jpeg(a: np.ndarray, exif=None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=92, **({"exif": exif} if exif is not None else {}))
    return buf.getvalue()


def bright_box(view: np.ndarray, level: int = 64) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the pixels above `level`."""
    rows, cols = np.nonzero(view > level)
    return rows.min(), cols.min(), rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def test_dark_object_on_light_paper_becomes_centred_light_on_dark():
    view = model_view(open_photo(jpeg(product_photo())), FASHION)  # object 100 tall x 60 wide, top-left
    assert view.shape == (28, 28) and view.dtype == np.uint8
    assert view[:, :3].max() < 30 and view[:, -3:].max() < 30  # dark background on the sides
    top, left, height, width = bright_box(view)
    assert height >= 26  # the longer side fills the frame, as Fashion-MNIST's products do
    assert 14 <= width <= 19  # aspect 0.6 kept: 28 * 0.6 = 16.8
    assert abs((left + width / 2) - 14) <= 1.5  # centred
    assert view[8:20, 11:17].mean() > 150  # the object is bright: its colour is far from the paper's


def test_exif_orientation_is_applied_before_anything_else():
    upright = product_photo()  # a tall object
    stored = np.ascontiguousarray(np.rot90(upright, k=1))  # the camera stored it sideways (wide object)...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...and says "rotate 90 degrees clockwise to view"
    view = model_view(open_photo(jpeg(stored, exif)), FASHION)
    _, _, height, width = bright_box(view)
    assert height >= 26 and width <= 19, (height, width)  # tall again
    plain = model_view(open_photo(jpeg(stored)), FASHION)  # without the tag the object stays wide
    _, _, height, width = bright_box(plain)
    assert width >= 26 and height <= 19


def test_mnist_keeps_its_margin_and_light_datasets_stay_light():
    view = model_view(open_photo(jpeg(product_photo(box=(60, 150, 160, 250)))), MNIST)  # a square, off-centre
    top, left, height, width = bright_box(view)
    assert 18 <= height <= 22 and 18 <= width <= 22  # 20 px of 28, like MNIST's digits
    assert abs(top + height / 2 - 14) <= 1.5 and abs(left + width / 2 - 14) <= 1.5
    light = model_view(open_photo(jpeg(product_photo())), {**FASHION, "background": "light"})
    assert light[:, :3].min() > 225 and light[10:18, 11:17].mean() < 100  # dark object on white, as trained


def test_transparent_cutout_reads_as_a_product_on_white():
    rgba = np.zeros((120, 90, 4), dtype=np.uint8)  # fully transparent...
    rgba[20:100, 30:60] = (30, 30, 30, 255)  # ...but a dark object
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    view = model_view(open_photo(buf.getvalue()), FASHION)
    assert view[:, :4].max() < 30 and view[14, 14] > 200  # tall: it spans the rows, black at the sides


def test_digits_and_blank_photos():
    view = model_view(open_photo(jpeg(product_photo())), {**FASHION, "img_size": 8, "dataset": "digits"})
    assert view.shape == (8, 8) and view[:, 0].max() < 60 and view[3:5, 3:5].min() > 150
    blank = np.full((50, 50), 200, dtype=np.uint8)
    assert model_view(open_photo(jpeg(blank)), FASHION).max() < 10  # an empty frame, not amplified noise


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_colour_and_folder_datasets_match_the_folder_loader_exactly(tmp_path, mode):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, size=(40, 80, 4), dtype=np.uint8)  # wide: the centre square is cropped
    photo = Image.fromarray(pixels, "RGBA").convert(mode)
    for c in ("a", "b"):  # the same photo everywhere, so every loaded image is that photo
        (tmp_path / c).mkdir()
        for i in range(5):
            photo.save(tmp_path / c / f"{i}.png")
    ds = load_dataset(f"folder:{tmp_path}", img_size=16)
    pre = {"dataset": ds.name, "in_chans": ds.in_chans, "img_size": 16, "mean": [0.5] * 3, "std": [0.25] * 3,
           "background": "none", "object_fill": None}
    view = model_view(open_photo((tmp_path / "a" / "0.png").read_bytes()), pre)
    loaded = ds.x_train[0].permute(1, 2, 0).numpy()  # (16, 16, C)
    np.testing.assert_array_equal(view, loaded[..., 0] if ds.in_chans == 1 else loaded)


def test_normalize_images_feeds_photos_as_training_fed_the_dataset():
    rgb = np.zeros((2, 3, 3), dtype=np.uint8)  # (H, W, C) as PIL gives it
    rgb[..., 0], rgb[..., 1], rgb[0, 0, 2] = 255, 51, 102  # red full, green 0.2, one blue pixel 0.4
    x = normalize_images([rgb], mean=[0.5, 0.2, 0.0], std=[0.25, 0.5, 0.2])
    assert x.shape == (1, 3, 2, 3) and x.dtype == np.float32 and x.flags.c_contiguous
    np.testing.assert_allclose(x[0, 0], 2.0, rtol=1e-6)  # (1 - 0.5) / 0.25
    np.testing.assert_allclose(x[0, 1], 0.0, atol=1e-6)  # (0.2 - 0.2) / 0.5
    assert x[0, 2, 0, 0] == pytest.approx(2.0, rel=1e-6) and x[0, 2, 1, 2] == 0.0  # (0.4 - 0) / 0.2, and 0
    gray = np.random.default_rng(2).integers(0, 256, size=(4, 5, 5), dtype=np.uint8)  # (B, H, W) grayscale
    np.testing.assert_array_equal(normalize_images(list(gray), [0.3], [0.4]),
                                  normalize(torch.from_numpy(gray)[:, None], [0.3], [0.4]).numpy())


def test_a_checkpoint_without_a_measured_domain_gets_its_datasets_from_the_table():
    photo = open_photo(jpeg(product_photo(box=(60, 150, 160, 250))))
    old = {k: v for k, v in MNIST.items() if k not in ("background", "object_fill")}  # saved before it was measured
    np.testing.assert_array_equal(model_view(photo, old), model_view(photo, MNIST))


def test_photo_domain_is_measured_from_the_training_images():
    dark = torch.zeros(50, 1, 28, 28, dtype=torch.uint8)
    dark[:, :, 4:24, 4:24] = 255  # a light square, 20 of 28 px, on black
    assert photo_domain(dark) == {"background": "dark", "object_fill": pytest.approx(0.714, abs=1e-3)}
    assert photo_domain(255 - dark)["background"] == "light"
    noisy = torch.randint(0, 256, (50, 3, 32, 32), dtype=torch.uint8)
    assert photo_domain(noisy) == {"background": "none", "object_fill": None}


def _tiff(mode: str) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (8, 8)).save(buf, "TIFF")
    return buf.getvalue()


def test_bad_photos_raise_one_line_errors():
    def refused(data: bytes, status: int, *named: str) -> None:
        with pytest.raises(PhotoError) as e:
            open_photo(data, name="upload.jpg")
        msg = str(e.value)
        assert e.value.status == status and "\n" not in msg and msg.startswith("upload.jpg"), msg  # names the photo
        assert all(text in msg for text in named), msg

    refused(b"%PDF-1.4 definitely not a picture", 415, "PNG, JPEG")  # what it reads
    refused(_tiff("LAB"), 415, "'LAB'", "RGB")
    refused(jpeg(product_photo())[:600], 415)  # truncated
    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, "PNG")  # 81 Mpixels in a few kB
    assert len(bomb.getvalue()) < 100_000
    refused(bomb.getvalue(), 422, "9000x9000", "40 Mpixels")


def test_an_object_touching_an_edge_is_trimmed_to_it_not_cut():
    """A tight crop: the object runs off the bottom edge; the crop keeps all of it and its shading."""
    a = np.full((56, 56), 230, dtype=np.uint8)
    a[8:56, 20:36] = np.linspace(20, 120, 16)[None, :]  # a shaded leg running off the bottom edge
    view = model_view(open_photo(_png(a)), FASHION)
    rows = np.flatnonzero(view.max(1) > 60)
    assert rows[0] <= 1 and rows[-1] >= 26  # top to bottom: nothing cut off
    middle = view[14, view[14] > 60]
    assert middle[0] > middle[-1] + 40  # its shading survives: the darker side (in the photo) is the brighter


def test_an_image_already_in_the_dataset_domain_passes_unchanged():
    """A dataset image saved as a file is what the model was trained on: the conversion leaves it alone."""
    rng = np.random.default_rng(0)
    a = np.zeros((28, 28), dtype=np.uint8)
    a[3:27, 9:19] = rng.integers(60, 255, size=(24, 10))  # a thin light garment with a strap at the edge
    a[0:3, 12] = 200
    assert np.array_equal(model_view(open_photo(_png(a)), FASHION), a)
    assert not np.array_equal(model_view(open_photo(_png(255 - a)), FASHION), a)  # light background: converted


def test_thin_parts_are_kept_in_the_crop():
    """A bag's thin handle (2 px) above its body is part of the object: the crop box includes it."""
    a = np.full((120, 120), 235, dtype=np.uint8)
    a[60:100, 30:90] = 40  # the bag
    a[30:60, 58:60] = 40  # its handle, 2 px wide
    view = model_view(open_photo(_png(a)), FASHION)
    width = (view > 60).sum(1)  # object pixels per row
    assert all(1 <= n <= 4 for n in width[1:10])  # the handle on top: a thin line, but there
    assert all(n >= 20 for n in width[14:27])  # the body below it, wide (4/7 of the frame's height, as in the photo)


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()
