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
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

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


def phones_dev_dir() -> Path:
    """The phones-dev folder: ``$KUZET_PHONES_DEV``, else ``../shared/data/phones-dev``."""
    env = os.environ.get("KUZET_PHONES_DEV")
    return Path(env) if env else REPO.parent / "shared" / "data" / "phones-dev"


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
