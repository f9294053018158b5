"""Property-based checks of the small pure pieces: password hashing, redirect targets, listen
addresses, the head image size bound."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_agent.webui.accounts import hash_password, verify_password
from edge_agent.webui.capture import HEAD_IMAGE_MAX_BYTES, head_image
from edge_agent.webui.config import parse_webui_listen
from edge_agent.webui.util import local_path

printable = st.text(min_size=1, max_size=64)


@settings(max_examples=15, deadline=None)      # scrypt is slow on purpose
@given(printable, printable)
def test_a_password_verifies_and_any_other_does_not(pw, other):
    stored = hash_password(pw)
    assert verify_password(pw, stored)
    assert verify_password(other, stored) == (other == pw)
    assert hash_password(pw) != stored            # a fresh salt every time


@given(st.text(max_size=200))
def test_garbage_stored_hashes_never_verify(stored):
    assert not verify_password("x", stored)


@given(st.text(max_size=200))
def test_redirect_targets_stay_on_this_site(value):
    out = local_path(value)
    assert out.startswith("/") and not out.startswith("//") and "\\" not in out and "\n" not in out


@given(st.text(max_size=80))
def test_listen_parser_never_crashes_and_never_accepts_a_wildcard(listen):
    try:
        host, port = parse_webui_listen(listen)
    except ValueError:
        return
    assert host not in ("0.0.0.0", "::") and 0 <= port <= 65535


def test_head_image_of_a_large_photo_fits_the_national_limit(faces_dir):
    img = cv2.imread(str(faces_dir / "identities" / "Barack_Obama" / "3.jpg"))    # 1434x2333
    assert img is not None
    h, w = img.shape[:2]
    jpeg = head_image(img, (0.0, 0.0, float(w), float(h)))
    assert len(jpeg) <= HEAD_IMAGE_MAX_BYTES and jpeg.startswith(b"\xff\xd8\xff") and jpeg.endswith(b"\xff\xd9")
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR) is not None
