import gzip
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from playground import data
from playground.data.images import FASHION_SUBSET


@pytest.mark.parametrize("name", data.TOY2D)
def test_toy2d(name):
    ds = data.load(name, n=300, seed=3)
    assert ds.x.shape == (300, 2) and ds.x.dtype == torch.float32
    assert ds.x.abs().max() <= 1 and ds.x.std() > 0.2
    assert ds.y.dtype == torch.long and 0 <= ds.y.min() and ds.y.max() < ds.num_classes
    assert len(set(ds.y.tolist())) == ds.num_classes  # every class present
    assert torch.equal(ds.x, data.load(name, n=300, seed=3).x)  # deterministic by seed
    assert not torch.equal(ds.x, data.load(name, n=300, seed=4).x)
    assert not torch.equal(ds.x, data.load(name, "test", n=300, seed=3).x)  # test is a different draw


def test_ring8_labels_are_the_modes():
    ds = data.load("ring8", n=800)
    angle = torch.atan2(ds.x[:, 1], ds.x[:, 0]) % (2 * np.pi)
    nearest = torch.round(angle / (2 * np.pi / 8)).long() % 8
    assert (nearest == ds.y).float().mean() > 0.99


@pytest.mark.parametrize("name, shape, classes", [("fashion", (1, 28, 28), 10), ("digits", (1, 8, 8), 10),
                                                  ("shapes", (3, 32, 32), 4)])
def test_image_datasets(name, shape, classes):
    ds = data.load(name, "test", n=200, seed=0)
    assert ds.x.shape == (200, *shape) and ds.x.dtype == torch.float32
    assert ds.x.min() >= -1 and ds.x.max() <= 1 and ds.x.max() > 0.5 and ds.x.min() < -0.5
    assert ds.num_classes == classes and ds.y.max() < classes
    assert torch.equal(ds.x, data.load(name, "test", n=200, seed=0).x)
    assert ds.source


def test_fashion_real_when_present_and_bundled_subset_otherwise(tmp_path):
    folder, full = data.fashion_source()
    real = data.load_fashion("test")
    if full:  # Debian's dataset-fashion-mnist, or a folder in PLAYGROUND_DATA
        assert len(real) == 10_000 and str(folder) in real.source
    fallback = data.load_fashion("train", search_path=[tmp_path])  # an empty folder: nothing found
    assert len(fallback) == 1000 and "bundled" in fallback.source
    assert torch.bincount(fallback.y).tolist() == [100] * 10
    assert data.fashion_source([tmp_path]) == (FASHION_SUBSET, False)


def test_fashion_from_playground_data(tmp_path, monkeypatch):
    for stem, payload in [("train-images-idx3-ubyte", struct.pack(">HBBIII", 0, 8, 3, 2, 28, 28) + bytes(range(256)) * 6 + bytes(32)),
                          ("train-labels-idx1-ubyte", struct.pack(">HBBI", 0, 8, 1, 2) + bytes([3, 7])),
                          ("t10k-images-idx3-ubyte", struct.pack(">HBBIII", 0, 8, 3, 1, 28, 28) + bytes(784)),
                          ("t10k-labels-idx1-ubyte", struct.pack(">HBBI", 0, 8, 1, 1) + bytes([0]))]:
        (tmp_path / stem).write_bytes(payload)  # uncompressed, as torchvision's raw folder also holds
    monkeypatch.setenv("PLAYGROUND_DATA", str(tmp_path))
    ds = data.load_fashion("train")
    assert len(ds) == 2 and ds.y.tolist() == [3, 7] and str(tmp_path) in ds.source
    assert ds.x[0, 0, 0, 0] == -1 and ds.x[0, 0, 0, 255 % 28] > -1


def test_shapes_captions_match_labels():
    ds = data.load("shapes", n=50, seed=1)
    assert len(ds.captions) == 50
    for caption, label in zip(ds.captions, ds.y.tolist()):
        assert data.SHAPE_CLASSES[label] in caption


def test_example_and_bad_requests():
    x, text = data.example("fashion", 7, 0)
    assert x.shape == (1, 28, 28) and "Sneaker" in text
    with pytest.raises(ValueError, match="index must be"):
        data.example("fashion", 7, -1)
    with pytest.raises(ValueError, match="class must be"):
        data.example("digits", 10, 0)
    with pytest.raises(ValueError, match="unknown dataset"):
        data.load("mnist")
    with pytest.raises(ValueError, match="split"):
        data.load("moons", "valid")


# ---- uploads -----------------------------------------------------------------------

def _save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def _gradient(mode="RGB", size=(40, 30)):
    array = np.linspace(0, 255, size[0] * size[1] * 3).reshape(size[1], size[0], 3).astype(np.uint8)
    return Image.fromarray(array, "RGB").convert(mode)


@pytest.mark.parametrize("channels", [1, 3])
def test_upload_modes_convert(tmp_path, channels):
    rgba = _gradient("RGBA")
    rgba.putalpha(0)  # fully transparent: shows as white
    cases = {
        "rgba.png": _save(rgba, tmp_path / "rgba.png"),
        "palette.png": _save(_gradient("P"), tmp_path / "palette.png"),
        "cmyk.jpg": _save(_gradient("CMYK"), tmp_path / "cmyk.jpg"),
        "gray.bmp": _save(_gradient("L"), tmp_path / "gray.bmp"),
        "photo.webp": _save(_gradient(), tmp_path / "photo.webp"),
        "anim.gif": _save(_gradient("P"), tmp_path / "anim.gif", save_all=True, append_images=[_gradient("P")]),
        "float.tiff": _save(Image.fromarray(np.linspace(-3, 5, 1200, dtype=np.float32).reshape(30, 40), "F"),
                            tmp_path / "float.tiff"),
    }
    for name, path in cases.items():
        x = data.load_image(path, size=28, channels=channels)
        assert x.shape == (channels, 28, 28) and x.dtype == torch.float32, name
        assert x.min() >= -1 and x.max() <= 1 and torch.isfinite(x).all(), name
    assert torch.allclose(data.load_image(cases["rgba.png"], 16, 3), torch.ones(3, 16, 16))


def test_upload_16_bit_keeps_its_range(tmp_path):
    array = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (64, 1))
    path = _save(Image.fromarray(array), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    x = data.load_image(path, size=8, channels=1)
    # A naive convert("L") clips everything above 255 to white; the gradient must survive.
    assert x[0, 0, 0] < -0.8 and x[0, 0, -1] > 0.8 and (x[0, 0, 1:] >= x[0, 0, :-1]).all()


def test_upload_large_image_converts(tmp_path):
    path = _save(Image.new("RGB", (5000, 5000), (200, 10, 10)), tmp_path / "big.png")
    x = data.load_image(path, size=32, channels=3)
    assert x.shape == (3, 32, 32) and x[0].mean() > 0.5 and x[1].mean() < -0.8


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width × height: enough to be refused before any decoding."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("make, message", [
    (lambda p: _save(Image.new("RGB", (1, 1)), p / "dot.png"), "at least"),
    (lambda p: (p / "huge.png").write_bytes(_png_header_only(20000, 20000)) and p / "huge.png", "too large|limit"),
    (lambda p: (p / "notes.png").write_text("this is not an image\n") and p / "notes.png", "not an image"),
    (lambda p: (p / "empty.png").write_bytes(b"") or p / "empty.png", "empty"),
    (lambda p: (p / "cut.png").write_bytes(_save(_gradient(size=(200, 200)), p / "full.png").read_bytes()[:900])
     and p / "cut.png", "truncated|corrupt"),
    (lambda p: (p / "cut.jpg").write_bytes(_save(_gradient(size=(300, 300)), p / "full.jpg").read_bytes()[:700])
     and p / "cut.jpg", "truncated|corrupt"),
    (lambda p: p / "missing.png", "no file"),
])
def test_upload_refused_with_clear_message(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(data.ImageError, match=message):
        data.load_image(path, size=28, channels=1)


def test_upload_from_bytes_and_gz_is_not_an_image():
    with pytest.raises(data.ImageError, match="not an image"):
        data.load_image(gzip.compress(b"hello"), size=28)


def test_a_huge_16_bit_png_decodes_within_bounded_memory(tmp_path):
    """A small file that decodes to 7000×7000 16-bit pixels (49 MP, 98 MB raw) must not turn into full-size
    float arrays (0.4 GB in float64): peak memory over the interpreter's own stays under 350 MB."""
    import subprocess
    import sys
    gradient = np.tile(np.linspace(0, 65535, 7000, dtype=np.uint16), (7000, 1))
    path = tmp_path / "huge16.png"
    Image.fromarray(gradient).save(path)
    assert path.stat().st_size < 5 * 2**20
    del gradient
    code = ("import resource, sys; from playground.data import load_image; "
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
            "x = load_image(sys.argv[1], size=28, channels=1); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, tuple(x.shape), float(x.min()), float(x.max()))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    grown_kb, shape = out.stdout.split()[0], out.stdout.split("(")[1].split(")")[0]
    assert shape == "1, 28, 28" and float(out.stdout.split()[-1]) > 0.9 and float(out.stdout.split()[-2]) < -0.9
    assert int(grown_kb) < 350 * 1024, f"peak memory grew by {int(grown_kb) / 1024:.0f} MB"
