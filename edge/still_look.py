"""A still photo judged the way the node judges a room: the room look, then a look per seat.

The node looks at the whole frame (the room look) and at each seat's square crop, where its
detector (with the phone finder and its second looks inside ``detect``) and the face detector
run. A still has no seat map, so :func:`look_like_node` makes one seat per person found by the
room look: the person's box is the seat's polygon and the crop is the node's own
(:func:`edge.seats.square_crop`, same margin and minimum). As on the node
(:func:`edge.looks.seat_look`), a seat look keeps the objects and faces whose centre lies in
its seat; the people are the room look's (a seat crop also shows halves of the neighbours).
Everything kept is merged by class-wise NMS and returned in the photo's pixels::

    dets, faces = look_like_node(photo, detector, face_detector)
    dets, faces = look_like_node(frame_1280x720, detector, face_detector, lores=(640, 360))

With ``lores`` the photo plays the camera's main stream: the room look runs on the photo shrunk
to ``lores`` (the detection stream), and a seat whose crop there is smaller than
``from_main_below_px`` (default: the detector's input size) is cut from the full-resolution
photo instead (:func:`edge.seat_cut.cut_seat`, as the node's pipeline does).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.models.base import Detection, Detector, Face, FaceDetector
from edge.models.nms import nms
from edge.models.phones import merge
from edge.seat_cut import box_to_frame, cut_seat, faces_to_frame, to_frame
from edge.seats import CROP_MARGIN, MIN_CROP, Seat, square_crop

FACE_IOU = 0.3        # the same face seen from two seats' crops (BlazeFace's own NMS IoU)


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


def _centre(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def look_like_node(image: np.ndarray, detector: Detector, face_detector: FaceDetector | None,
                   *, lores: tuple[int, int] | None = None, margin: float = CROP_MARGIN,
                   min_crop: int = MIN_CROP, max_seats: int = 30,
                   from_main_below_px: int | None = None
                   ) -> tuple[list[Detection], list[Face]]:
    """Objects and faces in ``image`` (``HxWx3`` BGR) as the node would find them, boxes in
    ``image``'s pixels. ``lores`` is the detection stream's ``(width, height)`` (None: the
    image itself); ``from_main_below_px`` 0 never cuts a seat from the full-resolution image.
    Faces are looked for in the seats' crops only, as on the node."""
    h, w = image.shape[:2]
    if lores is None or tuple(lores) == (w, h):
        frame, main = image, None
    else:
        frame, main = cv2.resize(image, tuple(lores), interpolation=cv2.INTER_AREA), image
    below = detector.input_size if from_main_below_px is None else from_main_below_px
    fh, fw = frame.shape[:2]
    room = detector.detect(frame)
    dets, faces = list(room), []
    for seat in person_seats(room, fw, fh, margin=margin, min_crop=min_crop,
                             max_seats=max_seats):
        cut = cut_seat(seat.crop, frame, main, below)
        dets += [d for d in to_frame(detector.detect(cut.pixels), cut)
                 if d.label != "person" and seat.contains(*_centre(d.box))]
        if face_detector is not None:
            faces += [f for f in faces_to_frame(face_detector.detect(cut.pixels), cut)
                      if seat.contains(*_centre(f.box))]
    back = (fw / w, fh / h)              # photo pixels per frame pixel, inverted
    dets = [Detection(d.label, d.score, box_to_frame(d.box, (0.0, 0.0), back)) for d in dets]
    faces = [Face(f.score, box_to_frame(f.box, (0.0, 0.0), back), f.yaw) for f in faces]
    return merge(dets), merge_faces(faces)


def merge_faces(faces: list[Face], iou_threshold: float = FACE_IOU) -> list[Face]:
    """One face per face seen from several crops (the best score's), best first."""
    if not faces:
        return []
    boxes = np.array([f.box for f in faces], np.float32)
    scores = np.array([f.score for f in faces], np.float32)
    return [faces[i] for i in nms(boxes, scores, iou_threshold, max_out=len(faces))]
