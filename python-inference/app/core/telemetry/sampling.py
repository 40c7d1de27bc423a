"""Head sampling after the OpenTelemetry SDK's `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, the same values the
C# services' SDK reads, so that a trace is kept or dropped as a whole: with a `parentbased_*` sampler (the default is
`parentbased_always_on`) a span with a parent follows the parent's decision (its `traceparent` flags) and only a
root span is decided here."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app.core.telemetry.tracing import SpanContext

logger = logging.getLogger(__name__)

SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SAMPLER = "parentbased_always_on"

_MAX_LONG = 2**63 - 1


@dataclass(frozen=True)
class Sampler:
    """`root` decides a trace's first span (a probability from 0 to 1); `parent_based` lets a span with a parent follow it."""

    root: float = 1.0
    parent_based: bool = True

    def should_sample(self, trace_id: str, parent: SpanContext | None) -> bool:
        if parent is not None and self.parent_based:
            return parent.sampled
        if self.root >= 1.0:
            return True
        if self.root <= 0.0:
            return False
        # As .NET's TraceIdRatioBasedSampler: the trace id's first 8 bytes as a signed big-endian integer, so that both
        # languages make the same decision for the same trace id.
        value = int(trace_id[:16], 16)
        if value >= 2**63:
            value -= 2**64
        return abs(value) < int(self.root * _MAX_LONG)

    @property
    def description(self) -> str:
        prefix = "parentbased_" if self.parent_based else ""
        if self.root >= 1.0:
            return f"{prefix}always_on"
        if self.root <= 0.0:
            return f"{prefix}always_off"
        return f"{prefix}traceidratio({self.root:g})"


def sampler_from(name: str | None, argument: str | None) -> Sampler:
    """The sampler `OTEL_TRACES_SAMPLER` names (unset: `parentbased_always_on`); like the SDKs, an unknown name or a bad
    ratio is logged and falls back (to the default sampler, to a ratio of 1) rather than failing start-up."""
    name = (name or DEFAULT_SAMPLER).strip().lower()
    if name not in SAMPLERS:
        logger.warning("OTEL_TRACES_SAMPLER=%s is not a known sampler; using %s", name, DEFAULT_SAMPLER)
        name = DEFAULT_SAMPLER
    parent_based = name.startswith("parentbased_")
    root = name.removeprefix("parentbased_")
    if root == "always_on":
        return Sampler(1.0, parent_based)
    if root == "always_off":
        return Sampler(0.0, parent_based)
    return Sampler(_ratio(argument), parent_based)


def _ratio(argument: str | None) -> float:
    try:
        ratio = float(argument) if argument is not None else 1.0
    except ValueError:
        ratio = float("nan")
    if not 0.0 <= ratio <= 1.0:  # also NaN
        logger.warning("OTEL_TRACES_SAMPLER_ARG=%s is not a ratio from 0 to 1; sampling every trace", argument)
        return 1.0
    return ratio
