"""A still photo judged the way the node judges a room: the room look, then a look per seat.

The node looks at the whole frame (the room look) and at each seat's square crop, where its
detector (with the phone finder and its second looks inside ``detect``) and the face detector
run. A still has no seat map, so :func:`look_like_node` makes its seats (``seats``):

- ``"persons"``: one seat per person found by the room look, the person's box as the seat's
  polygon (:func:`person_seats`);
- ``"grid"``: a grid of seat-sized cells over the whole frame, as a node's map covers every
  seat whether anyone is found there or not (:func:`grid_seats`, cells at most ``seat_px``
  wide and tall in the photo's pixels: 6x3 on 1280x720 by default, a seated student's size
  there);
- ``"both"`` (the default): the person seats, then the grid's.

Every seat's crop is the node's own (:func:`edge.seats.square_crop`, same margin and minimum);
seats whose crops nearly coincide share one look (:func:`seat_looks`). As on the node
(:func:`edge.looks.seat_look`), a seat look keeps the objects and faces whose centre lies in
its seat(s); the people are the room look's (a seat crop also shows halves of the neighbours).
Everything kept is merged by class-wise NMS and returned in the photo's pixels::

    dets, faces = look_like_node(photo, detector, face_detector)
    dets, faces = look_like_node(frame_1280x720, detector, face_detector, lores=(640, 360))

With ``lores`` the photo plays the camera's main stream: the room look runs on the photo shrunk
to ``lores`` (the detection stream), and a seat whose crop there is smaller than
``from_main_below_px`` (default: the detector's input size) is cut from the full-resolution
photo instead (:func:`edge.seat_cut.cut_seat`, as the node's pipeline does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Face, FaceDetector
from edge.models.merge import merge
from edge.models.nms import iou, nms
from edge.seat_cut import box_to_frame, cut_seat, face_to_frame, faces_to_frame, to_frame
from edge.seats import CROP_MARGIN, MIN_CROP, Seat, SeatMap, grid_seat_map, square_crop

SeatSource = Literal["persons", "grid", "both"]
SEAT_SOURCES: tuple[SeatSource, ...] = ("persons", "grid", "both")
FACE_IOU = 0.3        # the same face seen from two seats' crops (BlazeFace's own NMS IoU)
SEAT_PX = 240         # a grid cell's most side in the photo's pixels: 6x3 cells on 1280x720
SAME_CROP_IOU = 0.8   # two seats' crops this alike are looked at once


def person_seats(room: list[Detection], width: int, height: int, *, margin: float = CROP_MARGIN,
                 min_crop: int = MIN_CROP, max_seats: int = 30) -> list[Seat]:
    """One seat per person (best first, at most ``max_seats``) in the room look's pixels: the
    person's box as its polygon, the node's crop around it. A seat whose crop is already
    listed, or is the whole frame (the room look itself), is not listed again."""
    seats: list[Seat] = []
    whole = (0, 0, width, height)
    for d in sorted((d for d in room if d.label == "person"), key=lambda d: -d.score):
        x1, y1, x2, y2 = d.box
        poly = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
        crop = square_crop(poly, width, height, margin, min_crop)
        if crop != whole and all(s.crop != crop for s in seats):
            seats.append(Seat(f"person{len(seats) + 1}", poly, crop))
        if len(seats) >= max_seats:
            break
    return seats


def grid_cells(width: int, height: int, seat_px: float = SEAT_PX) -> tuple[int, int]:
    """Columns and rows of cells at most ``seat_px`` wide and tall over ``width`` x ``height``
    (1280x720: 6x3 at 240, 4x3 at 320)."""
    return max(1, math.ceil(width / seat_px - 1e-6)), max(1, math.ceil(height / seat_px - 1e-6))


def grid_seats(width: int, height: int, cols: int, rows: int, *, margin: float = CROP_MARGIN,
               min_crop: int = MIN_CROP) -> list[Seat]:
    """A ``cols`` x ``rows`` grid of seats over the whole ``width`` x ``height`` frame, as the
    node builds it (:func:`edge.seats.grid_seat_map`), each with the node's crop. A seat whose
    crop is the whole frame (the room look itself) is left out."""
    whole = (0, 0, width, height)
    seat_map = SeatMap(grid_seat_map(cols, rows, width, height), width, height,
                       margin=margin, min_crop=min_crop)
    return [s for s in seat_map.seats if s.crop != whole]


@dataclass(frozen=True)
class SeatLook:
    """One look at ``crop`` on behalf of ``seats`` (seats whose crops nearly coincide)."""

    crop: tuple[int, int, int, int]
    seats: tuple[Seat, ...]

    def keeps(self, box) -> bool:
        """Whether a box found in this look is centred in one of its seats."""
        x, y = _centre(box)
        return any(s.contains(x, y) for s in self.seats)


def seat_looks(seats: list[Seat], same_iou: float = SAME_CROP_IOU) -> list[SeatLook]:
    """The looks ``seats`` need, in their order: a seat whose crop overlaps an earlier look's
    crop by IoU ``same_iou`` or more joins that look instead of costing one of its own."""
    looks: list[tuple[tuple[int, int, int, int], list[Seat]]] = []
    for seat in seats:
        for crop, group in looks:
            if iou(np.array(crop), np.array([seat.crop]))[0] >= same_iou:
                group.append(seat)
                break
        else:
            looks.append((seat.crop, [seat]))
    return [SeatLook(crop, tuple(group)) for crop, group in looks]


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def look_like_node(image: np.ndarray, detector: Detector, face_detector: FaceDetector | None,
                   *, lores: tuple[int, int] | None = None, seats: SeatSource = "both",
                   seat_px: float = SEAT_PX, margin: float = CROP_MARGIN,
                   min_crop: int = MIN_CROP, max_seats: int = 30,
                   from_main_below_px: int | None = None
                   ) -> tuple[list[Detection], list[Face]]:
    """Objects and faces in ``image`` (``HxWx3`` BGR) as the node would find them, boxes in
    ``image``'s pixels. ``lores`` is the detection stream's ``(width, height)`` (None: the
    image itself); ``seats`` where the seats come from (module doc), ``seat_px`` the grid's
    cell size in ``image``'s pixels, ``max_seats`` the most seats (persons first);
    ``from_main_below_px`` 0 never cuts a seat from the full-resolution image. Faces are looked
    for in the seats' crops only, as on the node."""
    if seats not in SEAT_SOURCES:
        raise ValueError(f"seats must be one of {', '.join(SEAT_SOURCES)}, not {seats!r}")
    h, w = image.shape[:2]
    if lores is None or tuple(lores) == (w, h):
        frame, main = image, None
    else:
        frame, main = cv2.resize(image, tuple(lores), interpolation=cv2.INTER_AREA), image
    below = detector.input_size if from_main_below_px is None else from_main_below_px
    fh, fw = frame.shape[:2]
    room = detector.detect(frame)
    chosen: list[Seat] = []
    if seats in ("persons", "both"):
        chosen += person_seats(room, fw, fh, margin=margin, min_crop=min_crop,
                               max_seats=max_seats)
    if seats in ("grid", "both"):
        cols, rows = grid_cells(w, h, seat_px)
        chosen += grid_seats(fw, fh, cols, rows, margin=margin, min_crop=min_crop)
    dets, faces = list(room), []
    for look in seat_looks(chosen[:max_seats]):
        cut = cut_seat(look.crop, frame, main, below)
        dets += [d for d in to_frame(detector.detect(cut.pixels), cut)
                 if d.label != "person" and look.keeps(d.box)]
        if face_detector is not None:
            faces += [f for f in faces_to_frame(face_detector.detect(cut.pixels), cut)
                      if look.keeps(f.box)]
    back = (fw / w, fh / h)              # photo pixels per frame pixel, inverted
    dets = [Detection(d.label, d.score, box_to_frame(d.box, (0.0, 0.0), back)) for d in dets]
    faces = [face_to_frame(f, (0.0, 0.0), back) for f in faces]
    return merge(dets), merge_faces(faces)


def merge_faces(faces: list[Face], iou_threshold: float = FACE_IOU) -> list[Face]:
    """One face per face seen from several crops (the best score's), best first."""
    if not faces:
        return []
    boxes = np.array([f.box for f in faces], np.float32)
    scores = np.array([f.score for f in faces], np.float32)
    return [faces[i] for i in nms(boxes, scores, iou_threshold, max_out=len(faces))]
