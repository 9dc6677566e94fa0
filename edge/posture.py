"""A posture cue from a seated student's body keypoints: head bowed and both hands low.

It is meant for the phone no detector can see: used under the desk or in the lap. Pure numpy:
one pose goes in (17 COCO keypoints, ``x, y`` in pixels with ``y`` pointing down, and a
confidence), with the seat's desk edge if the caller knows one (a ``y`` in the same pixels);
a :class:`Posture` comes out, or None when the keypoints it needs are not seen confidently.
It knows nothing of models, cameras or time: the rules engine asks for the cue to hold for a
sustained time (``head_down_hands_low``, an advisory rule), since students look down at their
paper all the time.

Geometry. Lengths are in shoulder widths ``w`` (the distance between the two shoulder
keypoints), so the cue is the same near the camera and at the back of the room.

* **Head bowed**: the nose is below the shoulder line (the shoulders' mean ``y``; the margin is
  ``bowed_nose_above``, 0). Seen level, an upright adult's nose tip is about 15 cm above the
  shoulder joints, which are about 38 cm apart: 0.4 w. A camera high at the front sees it
  lower, as it sees the face (forward of the shoulders) lower: MoveNet on the four upright
  students of ``classroom.gif`` gives 0.04 to 0.37 w, the lowest for a student leaning on his
  forearms. A mild bow to a phone held at the chest, seen level, is still 0.25 to 0.29 w (two
  photos). Only a deep bow, over the lap, brings the nose below the shoulder line.
* **Hands low**, each hand: a wrist that is seen is low when it is below ``desk_y``, the front
  edge of the seat's desk top as the camera sees it (the desk top's lowest line in the image;
  a hand on the desk is above it); with no desk edge known a seen wrist is never low, because
  from a high camera the hands on the desk are as far below the shoulders (0.95 to 1.1 w in
  ``classroom.gif``) as a hand in the lap would be. A wrist that is not seen counts as low when
  its elbow is seen and hangs down (``elbow_down``, 0.5 w below its shoulder): the forearm goes
  down out of sight, which is what the desk does to a hand in the lap (0.70 to 0.77 w for the
  classroom student whose hands are under his desk). A hand with neither seen is not low. The
  hips are not used: behind a desk MoveNet still places them, with scores 0.4 to 0.6.

Limits, said plainly: none of the real footage at hand shows the behaviour, so the cue has
been checked only against upright students (who must not raise it), not measured on students
who do it. A head bowed so far that the face is hidden gives no cue (None: the nose is not
seen). A wrist hidden behind the bowed head or another student counts as low if its elbow
hangs down. A student turned sideways has narrow shoulders, which makes every length long:
the head then never reads as bowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
             "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
             "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
_K = {name: i for i, name in enumerate(KEYPOINTS)}
NOSE = _K["nose"]
SHOULDERS = (_K["left_shoulder"], _K["right_shoulder"])
# Each arm: (side, shoulder, elbow, wrist).
ARMS = (("left", _K["left_shoulder"], _K["left_elbow"], _K["left_wrist"]),
        ("right", _K["right_shoulder"], _K["right_elbow"], _K["right_wrist"]))


@dataclass(frozen=True)
class PostureParams:
    """Thresholds of the cue; lengths in shoulder widths."""

    min_confidence: float = 0.3        # a keypoint below this counts as not seen
    min_shoulder_px: float = 8.0       # narrower shoulders than this: too small to judge
    bowed_nose_above: float = 0.0      # head bowed: nose less than this above the shoulders
    elbow_down: float = 0.5            # an unseen wrist is low if its elbow hangs this far


@dataclass(frozen=True)
class Posture:
    """What one pose says. ``score`` is 1.0 when the head is bowed and both hands are low,
    else 0.0; ``why`` says what was measured, for the alert's detail and for people."""

    head_bowed: bool
    hands_low: bool
    score: float
    why: str


def posture(pose: np.ndarray, desk_y: float | None = None,
            params: PostureParams = PostureParams()) -> Posture | None:
    """The posture of one pose (a (17, 3) array: x, y in pixels, confidence), or None when
    the shoulders or the nose are not seen confidently, or the shoulders are too narrow."""
    kp = np.asarray(pose, dtype=np.float64)
    if kp.shape != (len(KEYPOINTS), 3):
        raise ValueError(f"a pose is a ({len(KEYPOINTS)}, 3) array, not {kp.shape}")
    seen = kp[:, 2] >= params.min_confidence
    if not (seen[NOSE] and seen[list(SHOULDERS)].all()):
        return None
    left, right = kp[SHOULDERS[0], :2], kp[SHOULDERS[1], :2]
    width = float(np.hypot(*(left - right)))
    if width < params.min_shoulder_px:
        return None
    shoulder_y = float((left[1] + right[1]) / 2)
    nose_above = (shoulder_y - kp[NOSE, 1]) / width
    head_bowed = bool(nose_above < params.bowed_nose_above)
    hands = [_hand_low(kp, seen, arm, width, desk_y, params) for arm in ARMS]
    hands_low = all(low for low, _ in hands)
    why = (f"nose {nose_above:.2f} shoulder widths above the shoulders "
           f"({'bowed' if head_bowed else 'upright'}); "
           + "; ".join(text for _, text in hands))
    return Posture(head_bowed=head_bowed, hands_low=hands_low,
                   score=1.0 if head_bowed and hands_low else 0.0, why=why)


def _hand_low(kp: np.ndarray, seen: np.ndarray, arm: tuple[str, int, int, int], width: float,
              desk_y: float | None, params: PostureParams) -> tuple[bool, str]:
    side, shoulder, elbow, wrist = arm
    if seen[wrist]:
        if desk_y is None:
            return False, f"{side} wrist seen (no desk edge to be below)"
        low = bool(kp[wrist, 1] > desk_y)
        return low, f"{side} wrist {'below' if low else 'above'} the desk edge"
    if seen[elbow]:
        down = (kp[elbow, 1] - kp[shoulder, 1]) / width
        low = bool(down >= params.elbow_down)
        return low, (f"{side} wrist unseen, elbow {down:.2f} shoulder widths below the "
                     f"shoulder ({'hangs down' if low else 'raised'})")
    return False, f"{side} wrist and elbow unseen"
