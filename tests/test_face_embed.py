"""The face embedder (FaceRes, int8) through the real interpreter, on real faces: the two
people of a CC BY 4.0 Intel clip (``../shared/data/footage``) a couple of seconds apart, and
Debian's opencv-doc photos; and the hub's narrow API over it (``hub.faces``).

A sanity check, not the evaluation: the labelled pairs and TAR at 1% FAR are
``kuzet models eval`` (``kuzet_tools/models/face_eval.py``)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.models import registry
from edge.models.base import Face
from edge.models.face_embed import TEMPLATE_112, similarity, similarity_transform
from hub import faces
from kuzet.errors import ModelError
from kuzet_tools.models.face_sets import footage_dir
from tests.support.footage import OPENCV_DATA

TWO_PEOPLE = "head-pose-face-detection-female-and-male.gif"   # 480x270, 56 frames, 12.5 fps


def clip_frames(name: str, *indices: int) -> list[np.ndarray]:
    path = footage_dir() / name                       # the project's copy, with attribution
    cap = cv2.VideoCapture(str(path))
    frames, i = {}, 0
    while len(frames) < len(indices):
        ok, frame = cap.read()
        assert ok, f"{name} has no frame {i}"
        if i in indices:
            frames[i] = frame
        i += 1
    return [frames[i] for i in indices]


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(OPENCV_DATA / name))
    assert image is not None, f"{OPENCV_DATA / name} is missing (Debian's opencv-doc)"
    return image


def left_to_right(image: np.ndarray) -> list[Face]:
    return sorted(faces.find_faces(image), key=lambda f: f.box[0])


@pytest.fixture(scope="module")
def two_people() -> dict[str, list[np.ndarray]]:
    """Each person's embedding in frame 0 and frame 30 (2.4 s later, the heads turned)."""
    out: dict[str, list[np.ndarray]] = {"left": [], "right": []}
    for frame in clip_frames(TWO_PEOPLE, 0, 30):
        found = left_to_right(frame)
        assert len(found) == 2, [f.box for f in found]
        for side, face in zip(("left", "right"), found, strict=True):
            out[side].append(faces.embed(frame, face))
    return out


def test_the_same_face_two_seconds_later_is_closer_than_the_other_person(two_people) -> None:
    left, right = two_people["left"], two_people["right"]
    same = [similarity(*left), similarity(*right)]
    different = [similarity(a, b) for a in left for b in right]
    assert min(same) > max(different) + 0.2, (same, different)
    assert min(same) > 0.6 and max(different) < 0.6


def test_an_embedding_is_a_deterministic_unit_float32_vector() -> None:
    image = photo("messi5.jpg")
    face = faces.one_face(image)
    first, again = faces.embed(image, face), faces.embed(image, face)
    assert first.dtype == np.float32 and first.shape == (1024,)
    assert np.array_equal(first, again)
    assert abs(float(np.linalg.norm(first)) - 1.0) < 1e-5
    assert faces.similarity(first, again) == pytest.approx(1.0, abs=1e-6)


def test_the_embedder_aligns_by_the_eyes_not_the_box() -> None:
    """The same face shifted inside a bigger picture gives (almost) the same vector."""
    image = photo("messi5.jpg")
    padded = cv2.copyMakeBorder(image, 40, 0, 70, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    a = faces.embed(image, faces.one_face(image))
    b = faces.embed(padded, faces.one_face(padded))
    assert faces.similarity(a, b) > 0.95


def test_hub_api_says_no_face_for_a_crop_without_one() -> None:
    fruits = photo("fruits.jpg")
    assert faces.find_faces(fruits) == []
    assert faces.face_embedding(fruits) is None
    with pytest.raises(faces.FaceError) as err:
        faces.one_face(fruits)
    assert err.value.reason == "no_face" and err.value.count == 0


def test_hub_api_refuses_two_faces_where_one_is_asked_for() -> None:
    frame = clip_frames(TWO_PEOPLE, 0)[0]
    with pytest.raises(faces.FaceError) as err:
        faces.face_embedding(frame)
    assert err.value.reason == "many_faces" and err.value.count == 2
    assert "2 faces found" in str(err.value)


def test_hub_reads_jpeg_and_png_bytes_and_refuses_anything_else() -> None:
    image = photo("messi5.jpg")
    for ext in (".jpg", ".png"):
        ok, data = cv2.imencode(ext, image)
        assert faces.read_image(data.tobytes()).shape == image.shape
    for bad in (b"", b"%PDF-1.4 not a picture", bytes(100)):
        with pytest.raises(ValueError):
            faces.read_image(bad)


def test_an_embedding_survives_the_blob_round_trip() -> None:
    vector = faces.face_embedding(photo("messi5.jpg"))
    assert vector is not None
    blob = faces.to_blob(vector)
    assert len(blob) == 4 * 1024
    assert np.array_equal(faces.from_blob(blob), vector)


def test_a_face_without_keypoints_is_refused_clearly() -> None:
    with pytest.raises(ModelError, match="no keypoints"):
        faces.embed(photo("messi5.jpg"), Face(0.9, (100.0, 50.0, 200.0, 150.0)))


def test_similarity_of_vectors_of_different_sizes_is_an_error() -> None:
    with pytest.raises(ValueError, match="different sizes"):
        similarity(np.ones(4), np.ones(5))


def test_similarity_transform_recovers_a_rotation_scale_and_shift() -> None:
    angle, scale, shift = np.deg2rad(20), 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = TEMPLATE_112 @ rot.T + shift
    matrix = similarity_transform(TEMPLATE_112, dst)
    assert np.allclose(matrix[:, :2], rot) and np.allclose(matrix[:, 2], shift)
    with pytest.raises(ValueError, match="coincide"):
        similarity_transform(np.zeros((4, 2)), TEMPLATE_112)


def test_an_unknown_face_embedder_names_the_valid_ones() -> None:
    with pytest.raises(ModelError, match="valid: faceres"):
        registry.create_face_embedder("arcface")
