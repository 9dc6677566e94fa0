"""The photos phone finding is tuned and measured on, as :class:`EvalImage` lists.

Parts (:data:`PARTS`):

- ``tune`` and ``measure``: the shared phones-dev photos (CC BY 4.0, 355 photos, 455 phones;
  ``$KUZET_PHONES_DEV``, else ``shared/data/phones-dev`` beside the repo), split once by
  :func:`split_phones_dev` into ``tests/data/phones/phones-dev-split.json``. The photos are read
  in place and never copied into the repo (some show identifiable people). Only phones are
  labelled there (``cell phone``); a detection of another class means nothing on this part.
- ``registry``: photos with phones that registry packages ship (``phones-registry.json``).
- ``negatives``: photos of phone-like objects (wallets, cards, cameras, remotes, calculators,
  books held in hand; ``negatives.json``): any ``cell phone`` found on them that matches no phone
  is a false phone.

Registry photos and negatives are obtained like the other eval sets
(:func:`kuzet_tools.models.evalset.load_eval_set`).

:func:`at_seat_distance` and :func:`seat_view` show a photo as a classroom camera would see
a seat: shrunk 0.35x and pasted onto a real classroom frame (``classroom.gif``, the demo's
footage in ``kuzet_tools/footage``, CC BY 4.0, Intel sample videos), boxes moved with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from kuzet_tools.examples import CLASSROOM
from kuzet_tools.models.evalset import REPO, EvalImage, EvalSetError, load_eval_set

PHONE = "cell phone"
PARTS = ("tune", "measure", "registry", "negatives")
DATA = REPO / "tests" / "data" / "phones"
SPLIT_PATH = DATA / "phones-dev-split.json"
LABELS = {"registry": DATA / "phones-registry.json", "negatives": DATA / "negatives.json"}
TUNE_SHARE = 0.55

# Stems whose numbers count photos scraped one by one, not frames of one recording: each such
# photo is its own group (checked by eye: 72 different web photos named imagesN).
_DISTINCT = re.compile(r"^images\d+_jpg$")


def _origin_checkout(repo: Path) -> Path | None:
    """The local checkout this one was cloned from (``git clone /work/main /tmp/x``), if any."""
    run = subprocess.run(["git", "-C", str(repo), "config", "--get", "remote.origin.url"],
                         capture_output=True, text=True, check=False)
    url = run.stdout.strip()
    if run.returncode != 0 or not url or "://" in url or ":" in url.split("/")[0]:
        return None                      # no origin, or a remote one (https://, host:path)
    origin = (repo / url).resolve() if not Path(url).is_absolute() else Path(url)
    return origin if origin.is_dir() else None


def shared_data_dir(repo: Path = REPO) -> Path:
    """The shared data (``data/`` of the folder ``shared`` beside the checkout); for a clone of
    a local checkout without one beside it, the one beside the checkout it was cloned from."""
    beside = repo.parent / "shared" / "data"
    if beside.is_dir():
        return beside
    origin = _origin_checkout(repo)
    if origin is not None and (origin.parent / "shared" / "data").is_dir():
        return origin.parent / "shared" / "data"
    return beside


def phones_dev_dir() -> Path:
    """The phones-dev folder: ``$KUZET_PHONES_DEV``, else ``phones-dev`` in the shared data
    (:func:`shared_data_dir`)."""
    env = os.environ.get("KUZET_PHONES_DEV")
    return Path(env) if env else shared_data_dir() / "phones-dev"


def source_set(source: str) -> str:
    """Which of the two Roboflow exports a photo came from: the repository before ``@``."""
    return source.split("@", 1)[0]


def group_key(source: str) -> str:
    """Photos that share a key are frames of one recording or one shoot and go to one part.

    The key is the original file name before Roboflow's ``.rf.<hash>`` with every run of digits
    replaced by ``#`` (``cell02_0156_jpg`` -> ``cell#_#_jpg``: the cell01..cell05 clips of one
    room; ``fotospoofing348`` -> one session; ``input-vid_mp4-32`` -> one video; the
    ``*-11ed-94f3-0242ac1c000c`` UUIDs -> one camera session), except web photos numbered one
    by one (``images236_jpg``), which stay apart.
    """
    stem = source.rsplit("/", 1)[-1].split(".rf.", 1)[0]
    if _DISTINCT.match(stem):
        return f"{source_set(source)}:{stem}"
    return f"{source_set(source)}:{re.sub(r'[0-9]+', '#', stem)}"


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def split_phones_dev(records: list[dict], tune_share: float = TUNE_SHARE) -> dict:
    """Split phones-dev's ``labels.json`` records into ``tune`` and ``measure``.

    Per source set, groups (:func:`group_key`) are taken in the order of the sha256 of their
    key and each goes to the part further below its share of that source's photos (``tune``
    on a tie), so the split is deterministic, stratified by source and keeps groups whole.
    """
    by_source: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for rec in records:
        by_source[source_set(rec["source"])][group_key(rec["source"])].append(rec["file"])
    parts: dict[str, list[str]] = {"tune": [], "measure": []}
    counts: dict[str, dict[str, int]] = {}
    for source in sorted(by_source):
        groups = by_source[source]
        total = sum(len(files) for files in groups.values())
        have = {"tune": 0, "measure": 0}
        for key in sorted(groups, key=_hash):
            files = groups[key]
            short_tune = tune_share * total - have["tune"]
            short_measure = (1 - tune_share) * total - have["measure"]
            part = "tune" if short_tune >= short_measure else "measure"
            have[part] += len(files)
            parts[part].extend(files)
        counts[source] = have
    phones = {rec["file"]: len(rec["phones"]) for rec in records}
    return {
        "about": "phones-dev (shared/data/phones-dev, CC BY 4.0) split into a part to tune on "
                 "and a held-out part to measure on; written by "
                 "kuzet_tools.models.phone_sets.split_phones_dev.",
        "rule": f"per source set (the repository in `source`), groups of photos with the same "
                f"original file name up to `.rf.` with digit runs as `#` (web photos "
                f"`imagesN_jpg` each alone) taken in sha256(group key) order, each given to "
                f"the part further below its share (tune {tune_share:.2f}, measure "
                f"{1 - tune_share:.2f}) of that source's photos",
        "counts": {
            "photos": {p: len(files) for p, files in parts.items()},
            "phones": {p: sum(phones[f] for f in files) for p, files in parts.items()},
            "by_source": counts,
        },
        "tune": sorted(parts["tune"]),
        "measure": sorted(parts["measure"]),
    }


def phones_dev_records(root: Path | None = None) -> list[dict]:
    """phones-dev's ``labels.json``; :class:`EvalSetError` when the folder is not there."""
    root = root or phones_dev_dir()
    labels = root / "labels.json"
    if not labels.is_file():
        raise EvalSetError(f"phones-dev is not at {root} (set KUZET_PHONES_DEV to its folder)")
    return json.loads(labels.read_text())


def load_phones_dev(part: str, root: Path | None = None,
                    split_path: Path = SPLIT_PATH) -> list[EvalImage]:
    """The ``tune`` or ``measure`` photos of phones-dev, read in place, phones as ``cell
    phone`` (their ``lens`` boxes are left out: a lens is part of its phone)."""
    root = root or phones_dev_dir()
    wanted = set(json.loads(split_path.read_text())[part])
    images = []
    for rec in phones_dev_records(root):
        if rec["file"] not in wanted:
            continue
        path = root / "images" / rec["file"]
        source = {"kind": "phones-dev", "file": rec["file"], "origin": rec["source"]}
        images.append(EvalImage(
            Path(rec["file"]).stem, source, hashlib.sha256(path.read_bytes()).hexdigest(),
            [{"label": PHONE, "box": list(box)} for box in rec["phones"]], [], [], path))
    if len(images) != len(wanted):
        raise EvalSetError(f"phones-dev at {root} lacks {len(wanted) - len(images)} photos of "
                           f"the {part} part")
    return images


def load_phone_sets(parts: Iterable[str] = PARTS, fetch: bool = True
                    ) -> dict[str, list[EvalImage]]:
    """Each asked part's images (see the module doc); registry parts are obtained into the
    eval cache (``$KUZET_EVAL_DIR``) unless ``fetch`` is false."""
    out: dict[str, list[EvalImage]] = {}
    for part in parts:
        if part in ("tune", "measure"):
            out[part] = load_phones_dev(part)
        elif part in LABELS:
            out[part] = load_eval_set(LABELS[part], fetch=fetch)
        else:
            raise ValueError(f"unknown phone set part {part!r}; parts are {PARTS}")
    return out


# ---- seat distance --------------------------------------------------------------------------

SEAT_SCALE = 0.35
FRAME = (1280, 720)
# Where the shrunk photo's centre goes, as fractions of the frame: over the empty front desk
# between the seated students of classroom.gif, so a 640x640 photo (224x224 shrunk) covers
# nobody; a bigger photo is moved only as far as needed to stay inside the frame.
SEAT_CENTRE = (0.455, 0.82)
# The four students of classroom.gif's first frame, in 1280x720 pixels (hand-drawn).
CLASSROOM_PEOPLE = ([131, 378, 311, 601], [298, 330, 415, 470], [577, 325, 700, 470],
                    [768, 378, 932, 612])
CLASSROOM_FACES = ([166, 386, 225, 456], [338, 343, 378, 390], [616, 335, 655, 386],
                   [815, 386, 874, 460])


def classroom_gif() -> Path:
    """``classroom.gif``, shipped with the demo (``kuzet_tools/footage``, CC BY 4.0)."""
    return CLASSROOM


@lru_cache(maxsize=4)
def _classroom(frame: tuple[int, int]) -> np.ndarray:
    cap = cv2.VideoCapture(str(classroom_gif()))
    try:
        ok, first = cap.read()
    finally:
        cap.release()
    if not ok:
        raise EvalSetError(f"cannot read the classroom frame {classroom_gif()}")
    return cv2.resize(first, frame, interpolation=cv2.INTER_LINEAR)


def classroom_frame(frame: tuple[int, int] = FRAME) -> np.ndarray:
    """The first frame of classroom.gif (480x270) scaled to ``frame`` (width, height), BGR."""
    return _classroom(tuple(frame)).copy()


def _placement(size: tuple[int, int], scale: float, frame: tuple[int, int]
               ) -> tuple[float, int, int, int, int]:
    """(scale used, left, top, width, height) of a ``size`` (w, h) photo on ``frame``: shrunk
    further when ``scale`` would not fit it, centred on :data:`SEAT_CENTRE`, kept inside."""
    (w, h), (fw, fh) = size, frame
    scale = min(scale, fw / w, fh / h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    left = min(max(round(SEAT_CENTRE[0] * fw - sw / 2), 0), fw - sw)
    top = min(max(round(SEAT_CENTRE[1] * fh - sh / 2), 0), fh - sh)
    return scale, left, top, sw, sh


def _moved(box, scale: float, left: int, top: int) -> list[float]:
    x1, y1, x2, y2 = box
    return [round(x1 * scale + left, 1), round(y1 * scale + top, 1),
            round(x2 * scale + left, 1), round(y2 * scale + top, 1)]


def at_seat_distance(image: np.ndarray, boxes_by_label: dict[str, list], scale: float = SEAT_SCALE,
                     frame: tuple[int, int] = FRAME, background: np.ndarray | None = None
                     ) -> tuple[np.ndarray, dict[str, list[list[float]]]]:
    """``image`` shrunk ``scale``x (INTER_AREA) and pasted onto a ``frame`` (width, height)
    picture, with ``boxes_by_label`` ({label: [[x1, y1, x2, y2], ...]}) in frame pixels.

    The picture is ``background`` (any BGR image, resized to ``frame``), else the classroom
    frame (:func:`classroom_frame`); the photo's centre goes to :data:`SEAT_CENTRE` of it.
    """
    h, w = image.shape[:2]
    used, left, top, sw, sh = _placement((w, h), scale, frame)
    canvas = (classroom_frame(frame) if background is None
              else cv2.resize(background, frame, interpolation=cv2.INTER_AREA))
    canvas[top:top + sh, left:left + sw] = cv2.resize(image, (sw, sh),
                                                      interpolation=cv2.INTER_AREA)
    return canvas, {label: [_moved(b, used, left, top) for b in boxes]
                    for label, boxes in boxes_by_label.items()}


def _covered(box, patch: tuple[int, int, int, int]) -> bool:
    left, top, right, bottom = patch
    return box[0] < right and box[2] > left and box[1] < bottom and box[3] > top


def seat_view(image: EvalImage, pixels: np.ndarray, scale: float = SEAT_SCALE,
              frame: tuple[int, int] = FRAME) -> tuple[np.ndarray, EvalImage]:
    """``pixels`` (the image read) at seat distance on the classroom frame, and ``image`` with
    its objects, faces and ignore boxes moved there. The classroom's own students are added as
    ``person``/``face`` where the photo leaves them whole (a student the photo covers in part
    is left unlabelled, not ignored: an ignore box there would hide false phones in the
    photo). The returned image's ``path`` is still the source photo's."""
    h, w = pixels.shape[:2]
    used, left, top, sw, sh = _placement((w, h), scale, frame)
    canvas, _ = at_seat_distance(pixels, {}, scale, frame)
    fx, fy = frame[0] / FRAME[0], frame[1] / FRAME[1]
    patch = (left, top, left + sw, top + sh)
    objects = [{**o, "box": _moved(o["box"], used, left, top)} for o in image.objects]
    faces = [{**f, "box": _moved(f["box"], used, left, top)} for f in image.faces]
    ignore = [_moved(b, used, left, top) for b in image.ignore]
    for kind, boxes in (("person", CLASSROOM_PEOPLE), ("face", CLASSROOM_FACES)):
        for box in boxes:
            box = [box[0] * fx, box[1] * fy, box[2] * fx, box[3] * fy]
            if not _covered(box, patch):
                (objects if kind == "person" else faces).append({"label": kind, "box": box})
    return canvas, replace(image, id=f"{image.id}@seat", objects=objects, faces=faces,
                           ignore=ignore)
