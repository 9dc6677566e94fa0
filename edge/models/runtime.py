"""The TFLite interpreter: ``ai-edge-litert`` where it is installed, else ``tflite-runtime``.

Both expose the same ``Interpreter`` class. Every model gets one interpreter, built once by
:func:`make_interpreter`, with its tensors allocated; decoders keep it for their lifetime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kuzet.errors import ModelError


def interpreter_class() -> type:
    """The ``Interpreter`` class of the first TFLite runtime that imports."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError(
                "no TFLite runtime: install ai-edge-litert (or tflite-runtime with numpy<2)"
            ) from exc
    return Interpreter


def make_interpreter(path: str | Path, num_threads: int = 2) -> Any:
    """Load ``path`` into an interpreter with allocated tensors.

    Raises :class:`ModelError` naming the file when it is missing or is not a valid model.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} is missing")
    cls = interpreter_class()
    try:
        interpreter = cls(model_path=str(path), num_threads=num_threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"model file {path} is corrupt or not a TFLite model: {exc}") from exc
    return interpreter


def check_input_shape(interpreter: Any, path: str | Path, expected: list[int]) -> None:
    """Raise :class:`ModelError` unless the model's first input has shape ``expected``."""
    actual = [int(v) for v in interpreter.get_input_details()[0]["shape"]]
    if actual != list(expected):
        raise ModelError(
            f"model file {path} has input shape {actual}, expected {list(expected)}"
        )
