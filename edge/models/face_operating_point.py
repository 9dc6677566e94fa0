"""The face embedder's operating points: the cosine similarities that decide, in one place.

Measured by ``kuzet models eval --set faces`` on the labelled face pairs
(``tests/data/faces/faces.json``, ``kuzet_tools/models/face_eval.py``; figures and sources in
docs/detection.md) with the default embedder (HSE FaceRes, int8) on BlazeFace's keypoints:

- ``FACE_MATCH_THRESHOLD``: the 1:1 match at check-in (the roster photo against the seat's
  crop) says "likely" from this similarity, "unlikely" below it. It is the threshold at 1%
  false accepts on the set's 5967 different-person pairs (0.5567), rounded up to 0.01, where
  the true-accept rate on the 138 same-person pairs (10 persons) is 0.971 (95% Wilson
  0.928-0.989; persons are few, so the true interval is wider). ``tests/test_face_eval.py``
  recomputes it on the set.
- ``FACE_CHANGED_THRESHOLD``: the changed-face check's similarity to the seat's check-in face
  below which the face counts as someone else (median of three comparisons, held 15 s, one
  comparison per 15 s): on the set's footage no false raise in 8 one-person sequences of 10
  minutes (1% of 320 comparisons below it) and 16 of 20 switches to another person found,
  median 30 s after the switch (all 8 of the close faces; 8 of 12 of the classroom's 15-24 px
  faces, which look alike). Lower thresholds find fewer switches (0.35: 4 of 20); 0.55 gives
  a false raise. Same-camera comparisons of one session score higher than photo-to-crop
  ones, hence a lower value than the match's.

Plain numbers: the config and the rules core can name them without loading a model.
"""

FACE_MATCH_THRESHOLD = 0.56
MEASURED_TAR_AT_FAR_1PCT = 0.971
FACE_CHANGED_THRESHOLD = 0.5
