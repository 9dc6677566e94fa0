"""The labelled face set: same-person and different-person pairs from real photos and footage.

``tests/data/faces/faces.json`` (written by :func:`build_manifest`, ``python -m
kuzet_tools.models.face_sets build``) lists every face *sample*: its source (a photo inside a
registry package, or a frame of a CC BY 4.0 clip in the shared footage), the sha256 of that
source, the face box (BlazeFace's, checked by eye), and the person it shows. The photos are
never committed; :func:`load_samples` obtains them into the eval cache like the other eval
sets (``$KUZET_EVAL_DIR``, else ``var/eval-images``).

Sources (``SOURCES``):

- Debian ``libdlib19.1`` 19.24: ``examples/faces/*.jpg`` (Debian's copyright file: the
  examples are "Creative-Commons-Public-Domain", © Davis E. King). ``bald_guys.jpg`` is 24
  photos of four actors, six each (dlib's face-clustering example): the photo set's
  same-person pairs. The other photos (PASCAL VOC group shots, one of Tom Cruise) are each a
  different person.
- PyPI ``insightface`` 2.1 wheel: ``insightface/data/images/t1.jpg`` (six people; the
  package is MIT-licensed).
- The photos the COCO eval set already uses (``tests/data/eval/labels.json``): ultralytics
  ``bus.jpg`` and ``zidane.jpg`` (AGPL-3.0 package), scikit-image ``astronaut.png`` and
  ``camera.png`` (public domain / BSD), Debian ``opencv-doc`` ``messi5.jpg`` and
  ``basketball1.png``.
- Footage: ``head-pose-face-detection-female-and-male.gif``, ``-female.gif``, ``-male.gif``
  and ``classroom.gif``, copied from ``shared/data/footage`` into ``kuzet_tools/footage``
  (Sample videos © Intel Corporation, CC BY 4.0,
  https://github.com/intel-iot-devkit/sample-videos). The woman and the man of
  the two-person clip are the same two people as in the one-person clips (checked by eye), so
  their faces pair across clips. Each face is followed through its clip by an IoU chain and
  sampled once a second (:data:`SAMPLE_EVERY_S`), so no two samples of one track are closer
  than a second. ``classroom.gif``'s four students are small (about 22 px wide faces in the
  480x270 frame): they are found in a crop around each seat's face.

Pairs (:func:`pairs`): every two samples of the same person are a same-person pair; every two
samples of different persons a different-person pair.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Face, FaceDetector
from edge.models.nms import iou, nms
from kuzet_tools.clips import read_clip
from kuzet_tools.examples import CLASSROOM
from kuzet_tools.models.evalset import (
    LABELS_PATH,
    REPO,
    EvalSetError,
    _deb_file,
    _wheel_member,
    cache_dir,
    load_eval_set,
)
from kuzet_tools.models.phone_sets import CLASSROOM_FACES

MANIFEST = REPO / "tests" / "data" / "faces" / "faces.json"
SAMPLE_EVERY_S = 1.0            # a track's samples are this far apart (not near-duplicates)
CONTEXT = 2.5                   # the crop around a face given to the face finder: 2.5x its size
BUILD_SCORE = 0.3               # BlazeFace's score when following a track
PHOTO_SCORE = 0.7               # a photo's face counts from this score (below: duplicates,
                                # a dog, blurred background faces; checked by eye)
MIN_CROP_PX = 64                # and at least this many pixels (the classroom's faces are small)
MATCH_IOU = 0.3                 # a face found again matches its labelled box from this IoU

DLIB = ("libdlib19.1", "19.24+dfsg-1", "usr/share/doc/libdlib19.1/examples/faces")
DLIB_PHOTOS = ("2007_007763.jpg", "2008_001009.jpg", "2008_001322.jpg", "2008_002079.jpg",
               "2008_002470.jpg", "2008_002506.jpg", "2008_004176.jpg", "2008_007676.jpg",
               "2009_004587.jpg", "Tom_Cruise_avp_2014_4.jpg", "bald_guys.jpg")
INSIGHTFACE = ("insightface", "2.1", "insightface/data/images/t1.jpg")
EVAL_SET_PHOTOS = ("bus", "zidane", "astronaut", "camera", "messi", "basketball")

# bald_guys.jpg's 24 faces by the centre of their box (x, y in its 1986x1545 pixels, within
# 60 px), named by eye: Vin Diesel, Bruce Willis, Dwayne Johnson, Jason Statham.
BALD_GUYS_CENTRES: dict[str, list[tuple[int, int]]] = {
    "vin-diesel": [(643, 525), (382, 297), (143, 467), (145, 159), (125, 1381), (620, 193)],
    "bruce-willis": [(860, 911), (1190, 1149), (1148, 834), (135, 1061), (866, 1326),
                     (452, 1347)],
    "dwayne-johnson": [(1523, 1409), (1159, 1395), (1605, 258), (1886, 490), (1703, 755),
                       (1892, 1392)],
    "jason-statham": [(955, 488), (139, 777), (398, 529), (505, 931), (960, 185), (392, 114)],
}

ATTRIBUTION = {
    "footage": "Sample videos © Intel Corporation, CC BY 4.0, "
               "https://github.com/intel-iot-devkit/sample-videos",
    "libdlib19.1": "dlib example photos © Davis E. King, Debian libdlib19.1 19.24 "
                   "(examples: Creative-Commons-Public-Domain per Debian's copyright file)",
    "insightface": "insightface 2.1 wheel (PyPI, MIT), insightface/data/images/t1.jpg",
    "eval-set": "the COCO eval set's photos (tests/data/eval/labels.json: ultralytics, "
                "scikit-image, Debian opencv-doc)",
}

# The footage tracks: clip, person, and the face box in the first frame it is followed from.
TRACKS = (
    ("head-pose-face-detection-female-and-male.gif", "intel-woman", (59, 76, 126, 143)),
    ("head-pose-face-detection-female-and-male.gif", "intel-man", (327, 66, 399, 138)),
    ("head-pose-face-detection-female.gif", "intel-woman", (168, 75, 237, 144)),
    ("head-pose-face-detection-male.gif", "intel-man", (208, 52, 290, 134)),
) + tuple(("classroom.gif", f"classroom-student-{i + 1}",
           tuple(round(v * 480 / 1280) for v in box)) for i, box in enumerate(CLASSROOM_FACES))


@dataclass(frozen=True)
class Sample:
    """One face: ``image`` names its source (see :func:`image_of`), ``box`` is x1, y1, x2, y2
    in that image's pixels; ``track`` groups a clip's samples of one face (``None`` for a
    photo); ``t`` is the time in the clip in seconds."""

    id: str
    person: str
    part: str                      # "photos", "footage" (close faces) or "classroom"
    image: dict
    box: tuple[float, float, float, float]
    track: str | None = None
    t: float | None = None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def footage_dir() -> Path:
    """The project's copies of the CC BY 4.0 clips (``kuzet_tools/footage``, with their
    attribution): the set's four clips ship with the project, so a clean clone has them."""
    return CLASSROOM.parent


def _clip_path(name: str) -> Path:
    path = footage_dir() / name
    if path.is_file():
        return path
    raise EvalSetError(f"footage clip {name} is not in {footage_dir()}")


@lru_cache(maxsize=8)
def _clip_frames(name: str) -> tuple[tuple[np.ndarray, ...], float]:
    path = _clip_path(name)
    try:
        frames, fps = read_clip(path)
    except FileNotFoundError as exc:
        raise EvalSetError(f"cannot read footage clip {path}") from exc
    return tuple(frames), fps


def clip_frames(name: str) -> tuple[list[np.ndarray], float]:
    """Every frame of a footage clip (BGR) and its frame rate."""
    frames, fps = _clip_frames(name)
    return list(frames), fps


def _photo_bytes(image: dict, dest: Path) -> bytes:
    kind = image["kind"]
    if kind == "deb":
        return _deb_file(image["package"], image["member"], dest).read_bytes()
    if kind == "wheel":
        return _wheel_member(image, dest)
    if kind == "eval-set":
        found = {i.id: i for i in load_eval_set(LABELS_PATH, dest)}
        return found[image["id"]].path.read_bytes()
    raise EvalSetError(f"unknown face image kind {kind!r}")


@lru_cache(maxsize=64)
def _image(key: str) -> np.ndarray:
    image = json.loads(key)
    if image["kind"] == "footage":
        frames, _ = _clip_frames(image["clip"])
        data = _clip_path(image["clip"]).read_bytes()
        pixels = frames[image["frame"]]
    else:
        data = _photo_bytes(image, cache_dir())
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image.get("sha256") and _sha(data) != image["sha256"]:
        raise EvalSetError(f"face source {image} has sha256 {_sha(data)}, expected "
                           f"{image['sha256']}")
    if pixels is None:
        raise EvalSetError(f"cannot read face source {image}")
    return pixels


def image_of(sample: Sample) -> np.ndarray:
    """The sample's whole image (BGR; a copy), obtained and checked against its sha256."""
    return _image(json.dumps(sample.image, sort_keys=True)).copy()


def context_box(box, shape, context: float = CONTEXT) -> tuple[int, int, int, int]:
    """The square ``context``x the face's size (at least :data:`MIN_CROP_PX`) around its
    centre, clipped to ``shape``."""
    x1, y1, x2, y2 = box
    side = max(context * max(x2 - x1, y2 - y1), MIN_CROP_PX)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = shape[:2]
    return (max(0, int(cx - side / 2)), max(0, int(cy - side / 2)),
            min(w, int(cx + side / 2)), min(h, int(cy + side / 2)))


def find_again(detector: FaceDetector, image: np.ndarray, box,
               context: float = CONTEXT) -> Face | None:
    """The face at ``box`` found again by ``detector`` in a crop ``context``x its size (the way
    the hub is given a seat crop), in ``image``'s pixels; None when none overlaps it by
    :data:`MATCH_IOU`."""
    x1, y1, x2, y2 = context_box(box, image.shape, context)
    faces = detector.detect(np.ascontiguousarray(image[y1:y2, x1:x2]))
    best, best_iou = None, MATCH_IOU
    target = np.asarray(box, np.float32)
    for f in faces:
        moved = np.asarray(f.box, np.float32) + [x1, y1, x1, y1]
        value = float(iou(moved, target[None])[0])
        if value >= best_iou:
            points = None if f.keypoints is None else tuple(
                (px + x1, py + y1) for px, py in f.keypoints)
            best, best_iou = Face(f.score, tuple(float(v) for v in moved), f.yaw, points), value
    return best


# ---- building the manifest (once, checked by eye) ----------------------------------------


def follow(detector: FaceDetector, frames: list[np.ndarray], start) -> list[tuple | None]:
    """The face's box in every frame, followed from ``start`` in frame 0 by an IoU chain (the
    face in a crop around the last box that overlaps it most); None where it was not found."""
    boxes: list[tuple | None] = []
    last = tuple(float(v) for v in start)
    for frame in frames:
        face = find_again(detector, frame, last)
        boxes.append(None if face is None else tuple(round(v, 1) for v in face.box))
        if face is not None:
            last = face.box
    return boxes


def photo_faces(detector: FaceDetector, image: np.ndarray, min_score: float = PHOTO_SCORE
                ) -> list[tuple[float, tuple]]:
    """Faces of a photo, big and small: the whole photo and 2x2 and 3x3 overlapping tiles,
    merged by NMS; ``(score, box)`` from ``min_score``."""
    h, w = image.shape[:2]
    boxes, scores = [], []
    for tiles in (1, 2, 3):
        side = max(h, w) if tiles == 1 else int(max(h, w) / tiles * 1.4)
        for ty in range(tiles):
            for tx in range(tiles):
                x0 = 0 if tiles == 1 else max(0, int(tx * (w - side) / (tiles - 1)))
                y0 = 0 if tiles == 1 else max(0, int(ty * (h - side) / (tiles - 1)))
                for f in detector.detect(np.ascontiguousarray(image[y0:y0 + side,
                                                                    x0:x0 + side])):
                    boxes.append(np.asarray(f.box) + [x0, y0, x0, y0])
                    scores.append(f.score)
    if not boxes:
        return []
    b, s = np.asarray(boxes, np.float32), np.asarray(scores, np.float32)
    keep = [i for i in nms(b, s, 0.3) if s[i] >= min_score]
    return [(float(s[i]), tuple(round(float(v), 1) for v in b[i])) for i in keep]


def _bald_guy(box) -> str:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for person, centres in BALD_GUYS_CENTRES.items():
        if any(abs(cx - x) <= 60 and abs(cy - y) <= 60 for x, y in centres):
            return person
    raise EvalSetError(f"bald_guys.jpg: a face at ({cx:.0f}, {cy:.0f}) has no name")


def _photo_sources() -> list[tuple[str, dict]]:
    out = [(name, {"kind": "deb", "package": DLIB[0], "version": DLIB[1],
                   "member": f"{DLIB[2]}/{name}"}) for name in DLIB_PHOTOS]
    out.append(("t1.jpg", {"kind": "wheel", "package": INSIGHTFACE[0],
                           "version": INSIGHTFACE[1], "member": INSIGHTFACE[2]}))
    out += [(name, {"kind": "eval-set", "id": name}) for name in EVAL_SET_PHOTOS]
    return out


def build_manifest(detector: FaceDetector) -> dict:
    """The manifest's content: every sample with its source, box and person."""
    dest = cache_dir()
    samples: list[dict] = []
    for name, image in _photo_sources():
        data = _photo_bytes(image, dest)
        image = {**image, "sha256": _sha(data)}
        pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        stem = Path(name).stem
        faces = sorted(photo_faces(detector, pixels), key=lambda f: (f[1][1], f[1][0]))
        for k, (_, box) in enumerate(faces):
            person = _bald_guy(box) if name == "bald_guys.jpg" else f"{stem}#{k}"
            samples.append({"id": f"{stem}#{k}", "person": person, "part": "photos",
                            "image": image, "box": list(box)})
    for clip, person, start in TRACKS:
        frames, fps = clip_frames(clip)
        data = _clip_path(clip).read_bytes()
        boxes = follow(detector, frames, start)
        track = f"{Path(clip).stem}:{person}"
        last_t = None
        for i, box in enumerate(boxes):
            # greedy: the first frame where the face was found a second or more after the last
            if box is None or (last_t is not None and i / fps < last_t + SAMPLE_EVERY_S - 1e-6):
                continue
            last_t = i / fps
            samples.append({
                "id": f"{track}@{i}", "person": person,
                "part": "classroom" if clip == "classroom.gif" else "footage",
                "image": {"kind": "footage", "clip": clip, "frame": i, "sha256": _sha(data)},
                "box": list(box), "track": track, "t": round(i / fps, 3)})
    return {
        "about": "Labelled face samples for the face-verification eval (kuzet models eval "
                 "--set faces); written by python -m kuzet_tools.models.face_sets build, "
                 "identities checked by eye. Photos are obtained from their packages, never "
                 "committed.",
        "attribution": ATTRIBUTION,
        "rule": f"photos: BlazeFace on the whole photo and 2x2/3x3 tiles, faces from score "
                f"{PHOTO_SCORE}; footage: each face followed by an IoU chain from its box in "
                f"frame 0, one sample a second ({SAMPLE_EVERY_S} s apart at least); pairs: "
                f"every two samples, same person or not",
        "samples": samples,
    }


def load_samples(manifest: Path = MANIFEST) -> list[Sample]:
    """The manifest's samples (the images themselves are obtained by :func:`image_of`)."""
    spec = json.loads(Path(manifest).read_text())
    return [Sample(s["id"], s["person"], s["part"], s["image"], tuple(s["box"]),
                   s.get("track"), s.get("t")) for s in spec["samples"]]


def pairs(samples: list[Sample]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(same-person pairs, different-person pairs) as index pairs into ``samples``."""
    same, different = [], []
    for i, j in combinations(range(len(samples)), 2):
        (same if samples[i].person == samples[j].person else different).append((i, j))
    return same, different


def counts(samples: list[Sample]) -> dict:
    """Samples, persons and pairs, overall and per part."""
    same, different = pairs(samples)
    return {"samples": len(samples), "persons": len({s.person for s in samples}),
            "persons_in_same_pairs": len({samples[i].person for i, _ in same}),
            "same_pairs": len(same), "different_pairs": len(different),
            "pairs": len(same) + len(different)}


def _contact_sheet(samples: list[Sample], out: Path, size: int = 80) -> None:
    tiles = []
    for s in samples:
        image = image_of(s)
        x1, y1, x2, y2 = context_box(s.box, image.shape, 1.2)
        tile = cv2.resize(image[y1:y2, x1:x2], (size, size))
        cv2.putText(tile, s.person[:12], (1, size - 3), 0, 0.28, (0, 255, 255), 1)
        tiles.append(tile)
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % 12)
    rows = [np.hstack(tiles[i:i + 12]) for i in range(0, len(tiles), 12)]
    cv2.imwrite(str(out), np.vstack(rows))


def main(argv: list[str] | None = None) -> int:
    from edge.models.registry import create_face_detector

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "sheet"])
    parser.add_argument("--out", type=Path, default=None, help="build: the manifest to write; "
                        "sheet: the contact sheet PNG")
    args = parser.parse_args(argv)
    if args.action == "build":
        detector = create_face_detector(score_threshold=BUILD_SCORE, with_yaw=False,
                                        num_threads=1)
        spec = build_manifest(detector)
        out = args.out or MANIFEST
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(spec, indent=1) + "\n")
        print(json.dumps(counts(load_samples(out)), indent=1))
    else:
        out = args.out or Path(tempfile.gettempdir()) / "faces-sheet.png"
        _contact_sheet(load_samples(), out)
        print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

