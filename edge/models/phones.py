"""Phones in hands: the COCO detector, plus a second look at every hand.

Stock NanoDet finds a phone lying flat (often calling it ``remote``) but not one held low in a
hand. :class:`PhoneAwareDetector` wraps the object detector and adds, for each image (a seat
crop on the node):

1. **relabelling**: ``remote`` becomes ``cell phone`` (an exam-room desk holds no remote), with
   the score it had, and a phone on the box of a book is a book (:func:`book_tiebreak`);
2. **hands** (optional): MediaPipe's palm detector (``palm_detection_lite``, a few ms) finds
   the palms; the square around each hand and what it holds
   (:func:`edge.models.palm.hand_region`: 6x the palm, shifted towards the fingers) is cut
   from the image, enlarged at most 2.5x, and up to four such squares are packed into one
   416x416 mosaic (one square fills it, two to four share a 2x2 grid), so that the second
   look costs **one** more detector run however many hands there are;
3. the second look's ``cell phone`` / ``remote`` boxes (score ≥ ``hand_threshold``) are mapped
   back to image pixels and merged with the first look's by NMS. The box is the phone's own
   box, never the hand's or the person's.

It is a :class:`~edge.models.base.Detector` with the same three stages, so the node runs it in
place of the plain detector: ``prepare`` (any thread: both models' inputs), ``infer`` (the
detect thread: detector, palm model, then — only when a hand was found — the palm decode, the
mosaic and the second detector run; the dependent step costs about 1 ms of numpy/OpenCV) and
``decode`` (any thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Prepared
from edge.models.hands import wrist_regions
from edge.models.lookalikes import LookalikeVeto
from edge.models.merge import merge
from edge.models.nms import iou
from edge.models.palm import PalmDetector, hand_region
from edge.models.pose import PoseEstimator

PHONE = "cell phone"
PHONE_LIKE = frozenset({PHONE, "remote"})
MEAN_BGR = (104, 116, 124)   # NanoDet's mean colour: zero after normalisation


@dataclass(frozen=True)
class PhonePrepared(Prepared):
    """The object detector's input plus the palm model's, and the image for the mosaic."""

    palms: Prepared | None = None


@dataclass(frozen=True)
class Tile:
    """One hand region pasted into the mosaic: source box, mosaic offset and scale."""

    region: tuple[int, int, int, int]
    x0: int
    y0: int
    scale: float


def mosaic(image: np.ndarray, regions: list[tuple[int, int, int, int]], size: int,
           max_zoom: float = 2.5) -> tuple[np.ndarray, list[Tile]]:
    """Pack up to four regions of ``image`` into one ``size``x``size`` BGR picture: one region
    fills it, two to four share a 2x2 grid. Each keeps its aspect ratio (top-left aligned) and
    is enlarged at most ``max_zoom`` times: NanoDet calls a held bottle enlarged 6x a
    "parking meter", the same bottle enlarged 2.5x a bottle (0.75)."""
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    canvas[:] = MEAN_BGR
    cell = size if len(regions) == 1 else size // 2
    tiles = []
    for k, (x1, y1, x2, y2) in enumerate(regions[:4]):
        x0, y0 = (k % 2) * cell, (k // 2) * cell
        w, h = x2 - x1, y2 - y1
        if w < 2 or h < 2:
            continue
        scale = min(cell / max(w, h), max_zoom)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(image[y1:y2, x1:x2], (nw, nh),
                                                   interpolation=cv2.INTER_LINEAR)
        tiles.append(Tile((x1, y1, x2, y2), x0, y0, scale))
    return canvas, tiles


def from_mosaic(dets: list[Detection], tiles: list[Tile], cell: int) -> list[Detection]:
    """Mosaic detections back in source pixels; one whose centre is in no tile is dropped."""
    out = []
    for d in dets:
        cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
        for t in tiles:
            x1, y1, x2, y2 = t.region
            if not (t.x0 <= cx < t.x0 + cell and t.y0 <= cy < t.y0 + cell):
                continue
            box = [x1 + (d.box[0] - t.x0) / t.scale, y1 + (d.box[1] - t.y0) / t.scale,
                   x1 + (d.box[2] - t.x0) / t.scale, y1 + (d.box[3] - t.y0) / t.scale]
            box = [min(max(box[0], x1), x2), min(max(box[1], y1), y2),
                   min(max(box[2], x1), x2), min(max(box[3], y1), y2)]
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                out.append(Detection(d.label, d.score, tuple(float(v) for v in box)))
            break
    return out


def relabel(dets: list[Detection], remote_as_phone: bool = True) -> list[Detection]:
    """``remote`` becomes ``cell phone`` (same score and box) when ``remote_as_phone``."""
    if not remote_as_phone:
        return list(dets)
    return [Detection(PHONE, d.score, d.box) if d.label == "remote" else d for d in dets]


def book_tiebreak(dets: list[Detection], min_iou: float = 0.7) -> list[Detection]:
    """A phone candidate (``cell phone`` / ``remote``) on the same box as a ``book`` candidate
    (IoU ≥ ``min_iou``, any score the detector kept) is taken for a book, with the phone's
    score: NanoDet calls upright books phones (0.43–0.48 on the eval set) and says ``book``
    for the same box at a lower score. Both are forbidden objects; the label goes to the
    larger one. ``min_iou`` above 1 turns this off."""
    books = np.array([d.box for d in dets if d.label == "book"], np.float32).reshape(-1, 4)
    if not len(books):
        return list(dets)
    out = []
    for d in dets:
        if d.label in PHONE_LIKE and float(iou(np.asarray(d.box, np.float32), books).max()) \
                >= min_iou:
            d = Detection("book", d.score, d.box)
        out.append(d)
    return out


def _seen_before(d: Detection, first: list[Detection], min_iou: float = 0.3) -> bool:
    """Whether the first look already has ``d``'s object (same label, IoU ≥ ``min_iou``): the
    second look sees it closer, with a box that differs more than NMS's 0.5 allows."""
    same = np.array([f.box for f in first if f.label == d.label], np.float32).reshape(-1, 4)
    return bool(len(same)) and float(iou(np.asarray(d.box, np.float32), same).max()) >= min_iou


class PhoneAwareDetector(Detector):
    """The object detector with ``remote`` -> ``cell phone`` and a second look at the hands.

    ``detector`` must have been built with a score threshold at most the lowest of the three
    thresholds (``decode`` applies them). The hands come from the palm detector (``palms``)
    or from a pose model's wrists (``pose``); with neither only the relabelling is done.
    ``veto`` (optional) drops the phones an ImageNet classifier takes for a wallet, a camera
    or another look-alike (``edge/models/lookalikes.py``). ``max_second_looks`` caps the
    second looks between two calls of :meth:`new_sweep` (the node calls it once per sweep of
    the room), so that a room full of visible hands cannot stretch the seat revisit.
    """

    def __init__(self, detector: Detector, palms: PalmDetector | None, *,
                 pose: PoseEstimator | None = None, veto: LookalikeVeto | None = None,
                 max_second_looks: int | None = None,
                 score_threshold: float = 0.35, phone_threshold: float | None = None,
                 hand_threshold: float = 0.3, remote_as_phone: bool = True,
                 book_iou: float = 0.7, max_hands: int = 4, hand_scale: float = 6.0,
                 max_zoom: float = 2.5,
                 hand_classes: frozenset[str] = PHONE_LIKE) -> None:
        self.detector = detector
        self.palms = palms
        self.pose = pose if palms is None else None
        self.veto = veto
        self.max_second_looks = max_second_looks
        hands = "+hands" if palms is not None else "+pose" if self.pose is not None else ""
        self.name = detector.name + (hands or "+remote") + ("+veto" if veto else "")
        self.input_size = detector.input_size
        self.score_threshold = score_threshold
        self.phone_threshold = score_threshold if phone_threshold is None else phone_threshold
        self.hand_threshold = hand_threshold
        self.remote_as_phone = remote_as_phone
        self.book_iou = book_iou
        self.max_hands = max_hands
        self.hand_scale = hand_scale
        self.max_zoom = max_zoom
        self.hand_classes = hand_classes
        self.hand_looks = 0          # second looks run (for benchmarks)
        self.skipped_looks = 0       # second looks the cap left out (for the node's status)
        self._sweep_looks = 0
        # False: the node sheds the hands' looks to keep its revisit bound (edge/budget.py)
        self.second_looks = True

    @property
    def _hands(self) -> PalmDetector | PoseEstimator | None:
        return self.palms if self.palms is not None else self.pose

    def new_sweep(self) -> None:
        """A new sweep of the room starts: the second-look caps start again."""
        self._sweep_looks = 0
        inner = getattr(self.detector, "new_sweep", None)
        if inner is not None:
            inner()

    def prepare(self, image: np.ndarray) -> PhonePrepared:
        p = self.detector.prepare(image)
        hands = self._hands
        palms = hands.prepare(image) if hands is not None else None
        return PhonePrepared(p.tensor, p.scale, p.width, p.height, image, palms)

    def hand_regions(self, raw_palms: list[np.ndarray], prepared: PhonePrepared
                     ) -> list[tuple[int, int, int, int]]:
        """The hand squares (best palms first, at most ``max_hands``) in image pixels."""
        assert self._hands is not None and prepared.palms is not None
        if self.pose is not None:
            pose = self.pose.decode(raw_palms, prepared.palms)
            return wrist_regions(pose, prepared.width, prepared.height)[: self.max_hands]
        assert self.palms is not None
        found = self.palms.decode(raw_palms, prepared.palms)[: self.max_hands]
        return [hand_region(p, prepared.width, prepared.height, self.hand_scale) for p in found]

    def infer(self, prepared: Prepared) -> list[np.ndarray]:
        """First look and palms; then, if any hand was found, the mosaic's look. The raw list
        is ``first-look outputs + [tiles (K, 7)] + mosaic outputs`` (tiles empty: no hands)."""
        raw = self.detector.infer(prepared)
        hands = self._hands
        if hands is None or not isinstance(prepared, PhonePrepared) or \
                prepared.palms is None or prepared.image is None or not self.second_looks:
            return raw + [np.zeros((0, 7), np.float32)]
        if self.max_second_looks is not None and self._sweep_looks >= self.max_second_looks:
            self.skipped_looks += 1
            return raw + [np.zeros((0, 7), np.float32)]
        regions = self.hand_regions(hands.infer(prepared.palms), prepared)
        if not regions:
            return raw + [np.zeros((0, 7), np.float32)]
        self._sweep_looks += 1
        picture, tiles = mosaic(prepared.image, regions, self.input_size, self.max_zoom)
        second = self.detector.infer(self.detector.prepare(picture))
        self.hand_looks += 1
        table = np.array([[*t.region, t.x0, t.y0, t.scale] for t in tiles], np.float32)
        return raw + [table.reshape(-1, 7)] + second

    def decode(self, raw: list[np.ndarray], prepared: Prepared) -> list[Detection]:
        """Both looks' detections in image pixels, phones labelled ``cell phone``, best
        first. First-look phones need ``phone_threshold``, other classes ``score_threshold``,
        second-look phones ``hand_threshold``."""
        n = next(i for i, a in enumerate(raw) if a.ndim == 2)   # the tile table
        candidates = self.detector.decode(raw[:n], prepared)
        found = [d for d in book_tiebreak(candidates, self.book_iou)
                 if d.score >= (self.phone_threshold if d.label in PHONE_LIKE
                                else self.score_threshold)]
        table = raw[n]
        if len(table):
            tiles = [Tile(tuple(int(v) for v in row[:4]), int(row[4]), int(row[5]),
                          float(row[6])) for row in table]
            cell = self.input_size if len(tiles) == 1 else self.input_size // 2
            square = Prepared(np.zeros(0), 1.0, self.input_size, self.input_size)
            seen = [d for d in self.detector.decode(raw[n + 1:], square)
                    if d.label in self.hand_classes and d.score >= self.hand_threshold]
            found += [d for d in from_mosaic(seen, tiles, cell) if not _seen_before(d, found)]
        found = merge(relabel(found, self.remote_as_phone))
        image = prepared.image if isinstance(prepared, PhonePrepared) else None
        if self.veto is not None and image is not None:
            found = self.veto.filter(image, found)
        return found


def create_phone_detector(name: str | None = None, score_threshold: float = 0.35,
                          num_threads: int = 2, *, hands: bool | str = False,
                          hand_threshold: float = 0.3, phone_threshold: float | None = None,
                          remote_as_phone: bool = True, palm_threshold: float = 0.5,
                          veto: bool = False, max_second_looks: int | None = None,
                          second_detector: str | None = None, second_threshold: float = 0.3,
                          second_gate: float | None = None,
                          manifest: str | Path | None = None) -> PhoneAwareDetector:
    """The object detector ``name`` (default: the registry's) wrapped for phones: ``remote``
    is a phone, a phone on a book's box is a book, and with ``hands`` (``"palm"`` or ``True``:
    the palm detector; ``"pose"``: MoveNet's wrists) the second look at the hands runs too
    (off by default: docs/detection.md has the figures); ``veto`` adds the look-alike check.
    ``second_detector`` (a registry name, e.g. ``"ssdlite-mobilenet-v2"``) pairs the detector
    with a second one whose phones at ``second_threshold`` join its own at ``phone_threshold``
    (:class:`~edge.models.pair.PairDetector`: each detector's phones keep their own threshold);
    with ``second_gate`` the second runs only on looks where the first gave a phone-like class
    at least that score somewhere.
    Book candidates for the tie-break are those above the lowest threshold given.

    Example: ``create_phone_detector().detect(seat_crop)`` ->
    ``[Detection("cell phone", 0.41, (x1, y1, x2, y2)), Detection("person", ...), ...]``.
    """
    from edge.models.registry import DEFAULT_DETECTOR, create_detector

    base = create_detector(name or DEFAULT_DETECTOR,
                           min(score_threshold, hand_threshold, phone_threshold or 1.0),
                           num_threads, manifest)
    if second_detector:
        from edge.models.pair import create_pair_detector

        own = score_threshold if phone_threshold is None else phone_threshold
        base = create_pair_detector(base, second_detector, second_threshold=second_threshold,
                                    primary_phone_threshold=own, gate=second_gate,
                                    num_threads=num_threads,
                                    manifest=manifest)
        phone_threshold = min(own, second_threshold)     # the pair has applied both
    from edge.models.registry import create_classifier, create_pose_estimator

    if hands not in (False, True, "palm", "pose"):
        raise ValueError(f"hands must be 'palm', 'pose' or False, not {hands!r}")
    palms = (create_palm_detector(palm_threshold, num_threads=num_threads)
             if hands in (True, "palm") else None)
    pose = create_pose_estimator(num_threads=num_threads) if hands == "pose" else None
    check = LookalikeVeto(create_classifier(num_threads=num_threads)) if veto else None
    return PhoneAwareDetector(base, palms, pose=pose, veto=check,
                              max_second_looks=max_second_looks,
                              score_threshold=score_threshold,
                              phone_threshold=phone_threshold, hand_threshold=hand_threshold,
                              remote_as_phone=remote_as_phone)


def create_palm_detector(score_threshold: float = 0.5, num_threads: int = 2,
                         manifest: str | Path | None = None) -> PalmDetector:
    """MediaPipe's palm detector from the manifest."""
    from edge.models.manifest import get_entry

    entry = get_entry("palm-detection-lite", manifest)
    return PalmDetector(entry.path, name=entry.name, sha256=entry.sha256,
                        score_threshold=score_threshold, num_threads=num_threads)
