"""Predictions served, counted per model version and label on the request path (in memory, no I/O), for the
`prediction.made` events that app/messaging/publisher.py sends."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple


class ModelVersion(NamedTuple):
    model: str
    version: str


PredictionCounts = dict[ModelVersion, Counter[str]]


class PredictionCounter:
    """Predictions served since the last flush, per model version and label.

    Used from the event loop only (the prediction routes are `async def`), so it needs no lock.
    """

    def __init__(self, flush_threshold: int) -> None:
        self._counts: PredictionCounts = {}
        self._pending = 0
        self._flush_threshold = flush_threshold
        self.on_threshold: Callable[[], None] | None = None

    @property
    def pending(self) -> int:
        return self._pending

    def record(self, model: str, version: str, labels: Iterable[str]) -> None:
        counts = self._counts.setdefault(ModelVersion(model, version), Counter())
        before = self._pending
        for label in labels:
            counts[label] += 1
            self._pending += 1
        if self._pending >= self._flush_threshold > before and self.on_threshold is not None:
            self.on_threshold()

    def take(self) -> PredictionCounts:
        """Everything pending, leaving the counter empty."""
        counts, self._counts, self._pending = self._counts, {}, 0
        return {key: labels for key, labels in counts.items() if labels}

    def merge_back(self, counts: Mapping[ModelVersion, Mapping[str, int]]) -> None:
        """Return counts that could not be published; they go out with the next flush."""
        for key, labels in counts.items():
            self._counts.setdefault(key, Counter()).update(labels)
            self._pending += sum(labels.values())
