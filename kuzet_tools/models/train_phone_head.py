"""Train the phone head (``edge/models/phone_head.json``) on the tune part of phones-dev.

``kuzet models train-phone-head`` (or ``python -m kuzet_tools.models.train_phone_head``) runs
NanoDet-m int8 on every tune photo twice, at the photo's scale and blurred to seat distance
(shrunk 0.35x with INTER_AREA, enlarged back with INTER_LINEAR), and keeps per cell its 128-d
head feature, its ``max(cell phone, remote)`` score, its stride and its decoded box. A cell is a
phone when its box has IoU >= 0.5 with a labelled phone. Rows for training: the hard cells
(IoU > 0.2 or phone score > 0.01) plus a 5% random sample of the rest weighted 20; no class
rebalancing; L2 1e-3; 600 gradient steps (full batch for the logistic regression, batches of
16384 rows for a hidden layer).

Each candidate (:data:`CANDIDATES`: logistic regression, one hidden ReLU layer of 16 or 32) is
scored by grouped 5-fold cross-validation on the tune photos (photos of one recording stay in
one fold): out-of-fold scores, NMS, matching as ``kuzet models eval``. The candidate with the
best mean recall at the threshold where false phones are at most one per ten photos (both
scales together) wins; it is trained again on all tune photos and written with that threshold
and its provenance. The measure part is never looked at here unless ``--report-measure``, which
only reports. Same inputs, same seed: same output bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.models.manifest import get_entry
from edge.models.nanodet import PHONE, REMOTE, STRIDES, NanoDetDetector, logit
from edge.models.nms import iou, nms
from edge.models.phone_head import HEAD_FILE, PhoneHead, head_inputs
from kuzet_tools.models.evalset import REPO, EvalImage, read_image
from kuzet_tools.models.phone_sets import (
    SEAT_SCALE,
    SPLIT_PATH,
    group_key,
    load_phones_dev,
)

OUT = REPO / "edge" / "models" / HEAD_FILE
BASE_MODEL = "nanodet-m-416-int8"
CANDIDATES = ("logistic", "mlp-16", "mlp-32")
SCALES = ("photo", "seat")
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05)) + (0.97, 0.98, 0.99)
FP_PER_10_PHOTOS = 1.0     # the target: at most one false phone per ten photos
BASELINE_THRESHOLD = 0.3   # the node's score threshold for NanoDet's own phone score


@dataclass(frozen=True)
class Look:
    """One photo at one scale: per cell the head's inputs, NanoDet's phone score, the decoded
    box, and its best IoU with a labelled phone; and the labelled phones."""

    photo: str
    group: str
    inputs: np.ndarray        # (N, 132) float16
    phone: np.ndarray         # (N,) float32
    boxes: np.ndarray         # (N, 4) float32, photo pixels
    best_iou: np.ndarray      # (N,) float32
    truth: np.ndarray         # (M, 4)


def seat_blur(pixels: np.ndarray, scale: float = SEAT_SCALE) -> np.ndarray:
    """The photo as seat distance leaves it: shrunk ``scale``x and enlarged back."""
    h, w = pixels.shape[:2]
    small = cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def base_detector() -> NanoDetDetector:
    """NanoDet-m int8 from the manifest (its features are read by ``infer_features``)."""
    entry = get_entry(BASE_MODEL)
    return NanoDetDetector(entry.path, name=BASE_MODEL, sha256=entry.sha256)


def cell_features(detector: NanoDetDetector, pixels: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(head inputs (N, 132), phone score (N,), boxes (N, 4))`` for every cell of a look."""
    prepared = detector.prepare(pixels)
    raw, features = detector.infer_features(prepared)
    inputs, phones = [], []
    for k, stride in enumerate(STRIDES):
        cls = raw[2 * k][0]
        phone = np.maximum(cls[:, PHONE], cls[:, REMOTE])
        inputs.append(head_inputs(features[k], logit(phone), stride))
        phones.append(phone)
    boxes = np.concatenate(detector.cell_boxes(raw, prepared))
    np.clip(boxes, 0, [prepared.width, prepared.height] * 2, out=boxes)
    return np.concatenate(inputs), np.concatenate(phones), boxes.astype(np.float32)


def collect(images: list[EvalImage], detector: NanoDetDetector) -> dict[str, list[Look]]:
    """Every photo's look at both scales."""
    looks: dict[str, list[Look]] = {s: [] for s in SCALES}
    for image in images:
        pixels = read_image(image)
        truth = np.array([o["box"] for o in image.objects], np.float32).reshape(-1, 4)
        for scale in SCALES:
            inputs, phone, boxes = cell_features(
                detector, pixels if scale == "photo" else seat_blur(pixels))
            best = (np.max([iou(t, boxes) for t in truth], axis=0) if len(truth)
                    else np.zeros(len(boxes)))
            looks[scale].append(Look(image.id, group_key(image.source["origin"]),
                                     inputs.astype(np.float16), phone, boxes,
                                     best.astype(np.float32), truth))
    return looks


def training_rows(looks: list[Look], rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(X, y, weight)``: hard cells weight 1, a 5% sample of the rest weight 20."""
    xs, ys, ws = [], [], []
    for look in looks:
        hard = (look.best_iou > 0.2) | (look.phone > 0.01)
        keep = hard | (rng.random(len(hard)) < 0.05)
        xs.append(look.inputs[keep].astype(np.float32))
        ys.append((look.best_iou[keep] >= 0.5).astype(np.float32))
        ws.append(np.where(hard[keep], 1.0, 20.0))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def train(kind: str, x: np.ndarray, y: np.ndarray, w: np.ndarray, seed: int,
          steps: int = 600, l2: float = 1e-3, batch: int = 16384) -> PhoneHead:
    """One candidate by gradient steps on the weighted log-loss, in float32: plain full-batch
    gradient descent (rate 0.5) for the logistic regression; Adam (rate 0.01) on random
    batches of ``batch`` rows for the hidden layer."""
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = ((x - mean) / std).astype(np.float32)
    y, w = y.astype(np.float32), (w / w.mean()).astype(np.float32)
    rng = np.random.default_rng(seed)
    hidden = 0 if kind == "logistic" else int(kind.split("-")[1])
    sizes = [z.shape[1], *([hidden] if hidden else []), 1]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        scale = 0.0 if not hidden else (np.sqrt(2.0 / a) if b != 1 else 0.01)
        params += [(rng.standard_normal((a, b)) * scale).astype(np.float32),
                   np.zeros(b, np.float32)]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
    for step in range(1, steps + 1):
        rows = rng.integers(0, len(y), min(batch, len(y))) if hidden else slice(None)
        acts = [z[rows]]
        for k in range(0, len(params), 2):
            out = acts[-1] @ params[k] + params[k + 1]
            acts.append(np.maximum(out, 0) if k + 2 < len(params) else out)
        p = 1 / (1 + np.exp(-acts[-1][:, 0]))
        grad = ((p - y[rows]) * w[rows] / len(p))[:, None]
        grads: list[np.ndarray] = [np.empty(0)] * len(params)
        for k in range(len(params) - 2, -1, -2):
            grads[k] = acts[k // 2].T @ grad + l2 * params[k]
            grads[k + 1] = grad.sum(0)
            if k:
                grad = (grad @ params[k].T) * (acts[k // 2] > 0)
        for k, g in enumerate(grads):
            if not hidden:
                params[k] -= 0.5 * g
                continue
            m, v = moments[k]
            m[...] = 0.9 * m + 0.1 * g
            v[...] = 0.999 * v + 0.001 * g * g
            params[k] -= 0.01 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    layers = tuple((params[k], params[k + 1]) for k in range(0, len(params), 2))
    return PhoneHead(mean.astype(np.float32), std.astype(np.float32), layers, 0.5)


def matches(scores: np.ndarray, look: Look, lowest: float) -> tuple[np.ndarray, np.ndarray]:
    """``(score, is_phone)`` of the boxes kept by NMS among cells scoring ``>= lowest``, best
    first; each labelled phone matches at most one. Greedy NMS and matching in score order
    make the boxes kept at any higher threshold a prefix of these."""
    idx = np.nonzero(scores >= lowest)[0]
    if not len(idx):
        return np.zeros(0), np.zeros(0, bool)
    keep = nms(look.boxes[idx], scores[idx], 0.5, None, 1000)
    used: set[int] = set()
    hit = []
    for i in keep:
        o = iou(look.boxes[idx[i]], look.truth) if len(look.truth) else np.zeros(1)
        j = int(o.argmax())
        ok = bool(o[j] >= 0.5 and j not in used)
        if ok:
            used.add(j)
        hit.append(ok)
    return scores[idx[keep]], np.array(hit, bool)


def curve(results: list[tuple[np.ndarray, np.ndarray]], phones: int, photos: int,
          thresholds: tuple[float, ...] = THRESHOLDS) -> dict[float, dict]:
    """Recall and false phones at each threshold."""
    out = {}
    for t in thresholds:
        tp = sum(int((s >= t)[h].sum()) for s, h in results)
        fp = sum(int((s >= t)[~h].sum()) for s, h in results)
        out[t] = {"recall": round(tp / max(phones, 1), 3), "false_phones": fp,
                  "false_per_10_photos": round(10 * fp / max(photos, 1), 2)}
    return out


def score_looks(head: PhoneHead | None, looks: list[Look]) -> list[np.ndarray]:
    """Per look the head's probability per cell (NanoDet's own phone score when ``None``)."""
    if head is None:
        return [look.phone for look in looks]
    return [1 / (1 + np.exp(-head.row_logits(look.inputs))) for look in looks]


def evaluate(head: PhoneHead | None, looks: dict[str, list[Look]]) -> dict[str, dict]:
    """Per scale, the curve of ``head`` (or NanoDet's own score) over ``looks``."""
    report = {}
    for scale, group in looks.items():
        res = [matches(s, look, min(THRESHOLDS)) for s, look in zip(
            score_looks(head, group), group, strict=True)]
        report[scale] = curve(res, sum(len(lk.truth) for lk in group), len(group))
    return report


def operating_point(report: dict[str, dict]) -> tuple[float, float]:
    """``(threshold, mean recall)``: the lowest threshold where both scales together give at
    most ``FP_PER_10_PHOTOS`` false phones per ten photos."""
    for t in THRESHOLDS:
        fp = sum(report[s][t]["false_per_10_photos"] for s in SCALES) / len(SCALES)
        if fp <= FP_PER_10_PHOTOS:
            return t, round(sum(report[s][t]["recall"] for s in SCALES) / len(SCALES), 3)
    return THRESHOLDS[-1], 0.0


def folds(looks: list[Look], k: int) -> list[int]:
    """A fold per look: whole groups, in sha256(group) order, each to the smallest fold."""
    groups: dict[str, list[int]] = {}
    for i, look in enumerate(looks):
        groups.setdefault(look.group, []).append(i)
    sizes = [0] * k
    fold = [0] * len(looks)
    for g in sorted(groups, key=lambda g: hashlib.sha256(g.encode()).hexdigest()):
        f = sizes.index(min(sizes))
        sizes[f] += len(groups[g])
        for i in groups[g]:
            fold[i] = f
    return fold


def cross_validate(kind: str, looks: dict[str, list[Look]], k: int, seed: int,
                   steps: int) -> dict[str, dict]:
    """Out-of-fold curves of one candidate (folds over photos, both scales together)."""
    fold = folds(looks[SCALES[0]], k)
    scored: dict[str, list] = {s: [None] * len(looks[s]) for s in SCALES}
    for f in range(k):
        rng = np.random.default_rng([seed, f])
        train_looks = [lk for s in SCALES for i, lk in enumerate(looks[s]) if fold[i] != f]
        head = train(kind, *training_rows(train_looks, rng), seed=seed, steps=steps)
        for s in SCALES:
            held = [i for i in range(len(looks[s])) if fold[i] == f]
            for i, score in zip(held, score_looks(head, [looks[s][i] for i in held]),
                                strict=True):
                scored[s][i] = matches(score, looks[s][i], min(THRESHOLDS))
    return {s: curve(scored[s], sum(len(lk.truth) for lk in looks[s]), len(looks[s]))
            for s in SCALES}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(out: Path = OUT, *, limit: int | None = None, k: int = 5, seed: int = 0,
        steps: int = 600, candidates: tuple[str, ...] = CANDIDATES,
        report_measure: bool = False) -> dict:
    """Collect, cross-validate, train the winner on all tune photos, write ``out``; the
    report (tune CV figures; measure figures only when asked)."""
    images = load_phones_dev("tune")[:limit]
    detector = base_detector()
    looks = collect(images, detector)
    baseline = evaluate(None, looks)
    cv = {}
    for c in candidates:
        print(f"cross-validating {c}", file=sys.stderr, flush=True)
        cv[c] = cross_validate(c, looks, k, seed, steps)
    points = {c: operating_point(r) for c, r in cv.items()}
    best = max(candidates, key=lambda c: (points[c][1], -candidates.index(c)))
    threshold = points[best][0]
    rows = training_rows([lk for s in SCALES for lk in looks[s]], np.random.default_rng(seed))
    head = train(best, *rows, seed=seed, steps=steps)
    command = "kuzet models train-phone-head" + (f" --limit {limit}" if limit else "")
    provenance = {
        "data": "phones-dev tune part (shared/data/phones-dev, CC BY 4.0; see "
                "LICENSES/phones-dev-ATTRIBUTION)",
        "photos": len(images), "phones": sum(len(i.objects) for i in images),
        "split_file": str(SPLIT_PATH.relative_to(REPO)),
        "split_sha256": sha256_file(SPLIT_PATH),
        "base_model": BASE_MODEL, "base_model_sha256": detector_sha(),
        "scales": "each photo at its own scale and blurred to seat distance (0.35x INTER_AREA, "
                  "back INTER_LINEAR)",
        "target": "cell's decoded box IoU >= 0.5 with a labelled phone",
        "rows": f"{len(rows[1])} (hard: IoU > 0.2 or phone score > 0.01; plus 5% of the rest "
                "weighted 20)",
        "training": f"{best}, {steps} gradient steps (logistic: full batch; hidden layer: Adam "
                    "on batches of 16384 rows), L2 1e-3, no class rebalancing",
        "threshold_rule": f"lowest where {k}-fold grouped CV on tune gives <= "
                          f"{FP_PER_10_PHOTOS} false phones per 10 photos (both scales)",
        "seed": seed, "command": command,
    }
    head = PhoneHead(head.mean, head.std, head.layers, threshold, provenance)
    out.write_text(json.dumps(head.as_dict(), indent=1) + "\n")
    report = {
        "out": str(out), "sha256": sha256_file(out), "chosen": best, "threshold": threshold,
        "tune_photos": len(images),
        "tune_cv": {c: {"operating_point": {"threshold": points[c][0],
                                            "mean_recall": points[c][1]},
                        **{s: _pick(cv[c][s], points[c][0]) for s in SCALES}} for c in cv},
        "tune_nanodet_own_score": {s: _pick(baseline[s], BASELINE_THRESHOLD) for s in SCALES},
        "tune_cv_curves": {c: cv[c] for c in cv},
        "tune_nanodet_curves": baseline,
    }
    if report_measure:
        measure = collect(load_phones_dev("measure"), detector)
        head_curves, nanodet_curves = evaluate(head, measure), evaluate(None, measure)
        report["measure"] = {"head": {s: _pick(r, threshold) for s, r in head_curves.items()},
                             "nanodet_own_score": {s: _pick(r, BASELINE_THRESHOLD)
                                                   for s, r in nanodet_curves.items()},
                             "head_curves": head_curves,
                             "nanodet_curves": nanodet_curves}
    return report


def _pick(curve_: dict[float, dict], t: float) -> dict:
    return {"threshold": t, **curve_[t]}


def detector_sha() -> str:
    return get_entry(BASE_MODEL).sha256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's options (shared by ``kuzet models train-phone-head``)."""
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    parser.add_argument("--limit", type=int, default=None, help="only the first N tune photos")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--candidate", action="append", choices=CANDIDATES, default=None,
                        help="only these candidates (repeatable; default all)")
    parser.add_argument("--report-measure", action="store_true",
                        help="also report (never choose on) the measure part")


def cmd_train(args: argparse.Namespace) -> int:
    """Train, write the head, print the report as JSON."""
    report = run(args.out, limit=args.limit, k=args.folds, seed=args.seed, steps=args.steps,
                 candidates=tuple(args.candidate or CANDIDATES),
                 report_measure=args.report_measure)
    print(json.dumps(report, indent=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    return cmd_train(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
