"""The model manifest (``manifest.json`` beside this file) and ``verify()``.

Each entry records where a model file came from (registry, package, version, member), its
sha256 and licence, the input it expects and the decoder that reads its outputs. File paths are
resolved beside the manifest, so a test can point at a copy in a temp dir.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.models.runtime import check_input_shape, make_interpreter
from kuzet.errors import ModelError

MANIFEST_PATH = Path(__file__).resolve().parent / "manifest.json"


@dataclass(frozen=True)
class ModelEntry:
    """One model file as the manifest describes it."""

    name: str
    task: str
    decoder: str
    file: str
    sha256: str
    size: int
    licence: str
    licence_files: tuple[str, ...]
    source: dict
    input_shape: tuple[int, ...]
    input_dtype: str
    input_spec: str
    directory: Path = field(default=MANIFEST_PATH.parent, compare=False)
    labels: str | None = None            # the class names file of a classifier, if any
    labels_sha256: str | None = None

    @property
    def path(self) -> Path:
        """The model file, beside the manifest."""
        return self.directory / self.file

    @property
    def labels_path(self) -> Path | None:
        """The labels file, beside the manifest (``None``: the entry records none)."""
        return None if self.labels is None else self.directory / self.labels


def load_manifest(path: str | Path | None = None) -> dict[str, ModelEntry]:
    """Entries by name. Raises :class:`ModelError` if the manifest is missing or malformed."""
    path = Path(path) if path else MANIFEST_PATH
    try:
        raw = json.loads(path.read_text())
        entries = {}
        for item in raw["models"]:
            labels = item.get("labels")
            entries[item["name"]] = ModelEntry(
                name=item["name"], task=item["task"], decoder=item["decoder"],
                file=item["file"], sha256=item["sha256"], size=int(item["size"]),
                licence=item["licence"], licence_files=tuple(item["licence_files"]),
                source=dict(item["source"]), input_shape=tuple(item["input"]["shape"]),
                input_dtype=item["input"]["dtype"], input_spec=item["input"]["spec"],
                directory=path.parent,
                labels=labels["file"] if labels else None,
                labels_sha256=labels["sha256"] if labels else None,
            )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model manifest {path} is missing or invalid: {exc}") from exc
    return entries


def get_entry(name: str, manifest: str | Path | None = None) -> ModelEntry:
    """The entry called ``name``; :class:`ModelError` listing the valid names otherwise."""
    entries = load_manifest(manifest)
    if name not in entries:
        raise ModelError(f"unknown model {name!r}; valid: {', '.join(sorted(entries))}")
    return entries[name]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str) -> None:
    """Raise :class:`ModelError` naming the file unless it exists with sha256 ``expected``."""
    if not path.is_file():
        raise ModelError(f"model file {path} is missing (expected sha256 {expected})")
    actual = sha256_of(path)
    if actual != expected:
        raise ModelError(f"model file {path} is corrupt: sha256 {actual}, expected {expected}")


def open_model(path: str | Path, input_shape: tuple[int, ...] | list[int],
               sha256: str | None = None, num_threads: int = 2) -> Any:
    """An interpreter for ``path`` after checking its sha256 (when given) and input shape."""
    path = Path(path)
    if sha256 is not None:
        check_sha256(path, sha256)
    interpreter = make_interpreter(path, num_threads=num_threads)
    check_input_shape(interpreter, path, list(input_shape))
    return interpreter


@dataclass
class VerifyResult:
    """What ``verify`` found for one model."""

    name: str
    file: str
    present: bool = False
    sha256_ok: bool = False
    loads: bool = False
    input_shape_ok: bool = False
    runs: bool = False
    ms_per_invoke: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.present and self.sha256_ok and self.loads and self.input_shape_ok \
            and self.runs

    def as_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def verify_entry(entry: ModelEntry, num_threads: int = 2) -> VerifyResult:
    """Check one model: present, sha256, loads, input shape, one ``invoke()`` on zeros."""
    result = VerifyResult(entry.name, str(entry.path))
    try:
        result.present = entry.path.is_file()
        check_sha256(entry.path, entry.sha256)
        result.sha256_ok = True
        interpreter = make_interpreter(entry.path, num_threads=num_threads)
        result.loads = True
        check_input_shape(interpreter, entry.path, list(entry.input_shape))
        result.input_shape_ok = True
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        start = time.perf_counter()
        interpreter.invoke()
        result.ms_per_invoke = round((time.perf_counter() - start) * 1000, 2)
        for out in interpreter.get_output_details():
            if not np.all(np.isfinite(interpreter.get_tensor(out["index"]))):
                raise ModelError(f"model file {entry.path} gives non-finite outputs")
        result.runs = True
    except ModelError as exc:
        result.error = str(exc)
    return result


def verify(manifest: str | Path | None = None, num_threads: int = 2) -> list[VerifyResult]:
    """Verify every model in the manifest; one result per model, in manifest order."""
    return [verify_entry(e, num_threads) for e in load_manifest(manifest).values()]
