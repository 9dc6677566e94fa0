"""The phone finder's operating point: which detectors' phones are kept, from what score.

Chosen on phones-dev's tune part only (``kuzet models tune-phones``; figures in
docs/detection.md): the most phone recall at the photos' own scale plus at seat distance
while false phones stay within one per ten photos at both. NanoDet's phones count from 0.5,
SSDLite MobileNetV2's from 0.7; the two are merged by class-wise NMS and by containment
(``edge.models.phones.merge``). Plain numbers, so that the config can name them without
loading a model.
"""

DEFAULT_SECOND_DETECTOR: str | None = "ssdlite-mobilenet-v2"
DEFAULT_PHONE_THRESHOLD = 0.5
DEFAULT_SECOND_THRESHOLD = 0.7
# SSDLite runs only on a look where NanoDet gave a phone or a remote 0.1 somewhere: it doubles
# the detector time of the looks it runs on, and a quiet seat rarely needs it
DEFAULT_SECOND_GATE = 0.1
