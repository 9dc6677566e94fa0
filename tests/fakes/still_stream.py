"""A camera that sees one real picture again and again, and a rules core that keeps its looks:
for driving a real ``Pipeline`` step by step on real pixels."""

from __future__ import annotations

import numpy as np

from edge.capture.base import EndOfStream, Frame, FrameSource
from edge.rules import RulesEngine, SeatLook


class StillStream(FrameSource):
    """A camera that sees the same real picture ``n`` times: the lores detection stream and
    the main stream of the same moment."""

    name = "still stream"

    def __init__(self, lores: np.ndarray, main: np.ndarray, n: int = 3) -> None:
        self.lores, self.main, self.n = lores, main, n
        self.seq = 0

    def open(self) -> None:
        self.seq = 0

    def read(self) -> Frame:
        if self.seq >= self.n:
            raise EndOfStream(f"{self.name}: ended")
        self.seq += 1
        return Frame(self.lores, self.seq, float(self.seq), 1.7e9 + self.seq, main=self.main)

    def close(self) -> None:
        pass


class SeatLooks(RulesEngine):
    """The real rules core, also keeping every seat look it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seat_looks: list[SeatLook] = []

    def observe_seat(self, look: SeatLook):
        self.seat_looks.append(look)
        return super().observe_seat(look)
