"""The arm64 check's comparison: ``kuzet edge detect --json`` on the same photos, run here and
by the emulated aarch64 Python of ``scripts/arm64-root`` (docs/edge.md, "The arm64 check").

Detections (and faces, as label ``face``) are paired per photo and label, nearest box first, when
they overlap (IoU at least 0.5).
Two runs agree when every detection has a partner whose box corners are within
``Tolerance.box_px`` and whose score is within ``Tolerance.score``; a detection left without a
partner is allowed only when its score is so near the threshold that the other run's may
have fallen just under it (within ``Tolerance.score`` of it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PAIR_IOU = 0.5          # two boxes of one label overlapping at least this much are one object


@dataclass(frozen=True)
class Tolerance:
    box_px: float = 2.0
    score: float = 0.02


@dataclass
class Comparison:
    """What differs between two runs: the worst box corner and score differences over the
    paired detections, and the detections that found no partner (beyond the tolerance)."""

    pairs: int = 0
    box_diffs: list[float] = field(default_factory=list)
    max_box_px: float = 0.0
    max_score: float = 0.0
    unpaired: list[str] = field(default_factory=list)
    near_threshold: list[str] = field(default_factory=list)

    def agrees(self, tol: Tolerance) -> bool:
        return (not self.unpaired and self.max_box_px <= tol.box_px
                and self.max_score <= tol.score)

    def as_dict(self) -> dict:
        within = sum(d <= 2.0 for d in self.box_diffs)
        return {"pairs": self.pairs, "pairs_within_2px": within,
                "max_box_px": round(self.max_box_px, 2),
                "max_score": round(self.max_score, 4), "unpaired": self.unpaired,
                "near_threshold": self.near_threshold}


def _objects(result: dict) -> list[tuple[str, float, list[float]]]:
    found = [(d["label"], d["score"], d["box"]) for d in result.get("detections", [])]
    found += [("face", f["score"], f["box"]) for f in result.get("faces", [])]
    return found


def _box_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def _iou(a: list[float], b: list[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def compare(here: list[dict], there: list[dict], threshold: float,
            tol: Tolerance = Tolerance()) -> Comparison:
    """Compare two ``kuzet edge detect --json`` outputs over the same photos, in order."""
    if [r["image"] for r in here] != [r["image"] for r in there]:
        raise ValueError("the two runs did not look at the same photos")
    out = Comparison()
    for a, b in zip(here, there, strict=True):
        left, right = _objects(a), _objects(b)
        pairs = sorted(((_box_diff(x[2], y[2]), i, j) for i, x in enumerate(left)
                        for j, y in enumerate(right) if x[0] == y[0]))
        used_l: set[int] = set()
        used_r: set[int] = set()
        for diff, i, j in pairs:
            if i in used_l or j in used_r or _iou(left[i][2], right[j][2]) < PAIR_IOU:
                continue
            used_l.add(i)
            used_r.add(j)
            out.pairs += 1
            out.box_diffs.append(diff)
            out.max_box_px = max(out.max_box_px, diff)
            out.max_score = max(out.max_score, abs(left[i][1] - right[j][1]))
        for side, objs, used in (("here", left, used_l), ("arm64", right, used_r)):
            for k, (label, score, box) in enumerate(objs):
                if k in used:
                    continue
                # A face has a threshold of its own: an unpaired face is a difference.
                what = f"{a['image']}: {label} {score:.3f} {box} only {side}"
                if label != "face" and score < threshold + tol.score:
                    out.near_threshold.append(what)
                else:
                    out.unpaired.append(what)
    return out
