"""Still images: EXIF orientation applied, size capped, alpha dropped, bad files refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_agent.vision.images import ImageError, read_image

ROTATED = "spoof/real/live_silentface_T1.jpg"   # 640x480 pixels stored, EXIF Orientation=6


def _exif_orientation(data: bytes) -> int | None:
    """Orientation tag (0x0112) from a JPEG's APP1 Exif segment, parsed by hand."""
    i = data.find(b"Exif\x00\x00")
    if i < 0:
        return None
    tiff = data[i + 6:]
    order = "little" if tiff[:2] == b"II" else "big"
    u16 = lambda b: int.from_bytes(b, order)  # noqa: E731
    ifd = int.from_bytes(tiff[4:8], order)
    for k in range(u16(tiff[ifd:ifd + 2])):
        e = tiff[ifd + 2 + 12 * k: ifd + 14 + 12 * k]
        if u16(e[:2]) == 0x0112:
            return u16(e[8:10])
    return None


def test_exif_orientation_is_applied(faces_dir, backend):
    path = faces_dir / ROTATED
    assert _exif_orientation(path.read_bytes()) == 6
    stored = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert stored.shape[:2] == (480, 640)
    img = read_image(path)
    assert img.shape[:2] == (640, 480)                      # rotated upright
    assert np.array_equal(img, cv2.rotate(stored, cv2.ROTATE_90_CLOCKWISE))
    faces = backend.detect(img)
    assert faces, "no face in the upright image"
    lm = faces[0].landmarks
    assert lm[:2, 1].max() < lm[2, 1] < lm[3:, 1].min()     # eyes above nose above mouth: upright


def test_size_is_capped_keeping_aspect(faces_dir):
    img = read_image(faces_dir / "identities/Barack_Obama/3.jpg", max_side=1600)   # 1434x2333
    assert img.shape == (1600, round(1434 * 1600 / 2333), 3)
    assert read_image(faces_dir / "identities/Barack_Obama/3.jpg", max_side=None).shape[:2] == (2333, 1434)


def test_alpha_png_reads_as_bgr(faces_dir):
    assert read_image(faces_dir / "misc/edge_rgba_32bit.png").shape[2] == 3


def test_unreadable_files_raise(tmp_path, faces_dir):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError):
        read_image(bad)
    with pytest.raises(ImageError):
        read_image(tmp_path / "missing.jpg")
