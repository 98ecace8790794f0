"""Where a model really runs: ``Placement``, the report ``Model.placement()`` returns, and the
``PlacedOp`` records a backend builds it from.

A backend lists the operations its runtime reports (one ``PlacedOp`` each: operator type, where
it runs, who runs it, its precision where the runtime says) and ``Placement.from_ops`` groups
them. ``where`` is ``"accelerator"`` (the device that was asked for), ``"cpu"`` or ``"other"``.
Unknown is ``None`` with the reason, never a guess: an Edge TPU segment's operation count is not
in the file (``count=None``), LiteRT measures no per-operator time, and so on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from edgeinfer._types import _ToDict

__all__ = ["WHERE", "GroupKey", "PlacedOp", "Placement", "PlacementGroup"]

WHERE: tuple[str, ...] = ("accelerator", "cpu", "other")


class GroupKey(NamedTuple):
    """What sets one group apart from another: where, on which device, who runs it, precision."""

    where: str
    device: str | None
    executor: str
    precision: str | None


@dataclass(frozen=True, slots=True)
class PlacedOp:
    """One operation as the runtime reports it. ``count`` is how many model operations it stands
    for: 1, or ``None`` where the runtime fused an unknown number (an ``edgetpu-custom-op``)."""

    op_type: str
    where: str
    device: str | None
    executor: str
    precision: str | None = None
    count: int | None = 1

    @property
    def key(self) -> GroupKey:
        return GroupKey(self.where, self.device, self.executor, self.precision)


@dataclass(frozen=True, slots=True)
class PlacementGroup(_ToDict):
    """Operations that run in one place: ``where`` (accelerator, cpu, other), the ``device``
    string, the ``executor`` (ONNX Runtime's execution provider, a LiteRT delegate, OpenVINO's
    device plugin...), how many ``operations`` (``None``: the runtime does not say), the operator
    types with their counts (most first), the ``precision`` where the runtime reports one, and
    the ``time_fraction`` of the measured time (``None``: not measured)."""

    where: str
    device: str | None
    executor: str
    operations: int | None
    op_types: tuple[tuple[str, int], ...]
    precision: str | None = None
    time_fraction: float | None = None

    def line(self) -> str:
        """``accelerator gpu:0  CUDAExecutionProvider  37 ops  fp16  92.1% of time: Conv x20...``"""
        count = "? ops" if self.operations is None else f"{self.operations} ops"
        parts = [self.where, self.device or "?", self.executor, count]
        if self.precision:
            parts.append(self.precision)
        if self.time_fraction is not None:
            parts.append(f"{self.time_fraction:.1%} of time")
        return "  ".join(parts) + ": " + _types_text(self.op_types)


@dataclass(frozen=True, slots=True)
class Placement(_ToDict):
    """How much of a model runs on the accelerator, from what the runtime reports.

    ``accelerator`` is the device asked for (``None`` when the model serves on the CPU).
    ``operations`` counts the model's operations as the runtime sees them (after its own graph
    rewriting), ``None`` where it does not say. ``on_accelerator``: the fraction of those on the
    accelerator; ``time_on_accelerator``: the fraction of measured time there. ``source`` says
    what was read, ``reason`` why a figure is ``None``, ``notes`` what else to know.
    """

    backend: str
    device: str
    accelerator: str | None
    operations: int | None
    groups: tuple[PlacementGroup, ...]
    on_accelerator: float | None
    time_on_accelerator: float | None
    source: str
    reason: str | None = None
    notes: tuple[str, ...] = field(default=())

    @classmethod
    def unknown(cls, backend: str, device: str, reason: str) -> Placement:
        """A report that knows nothing, and says why."""
        accelerator = None if device.split(":")[0] == "cpu" else device
        return cls(backend, device, accelerator, None, (), None, None, "nothing", reason)

    @classmethod
    def from_ops(
        cls,
        backend: str,
        device: str,
        ops: Iterable[PlacedOp],
        *,
        source: str,
        accelerator: str | None = None,
        times: Mapping[GroupKey, float] | None = None,
        reason: str | None = None,
        notes: Iterable[str] = (),
    ) -> Placement:
        """Group ``ops`` by where, device, executor and precision. ``times`` (any unit) is the
        measured time of each group; without it no time fraction is given."""
        grouped: dict[GroupKey, list[PlacedOp]] = {}
        for op in ops:
            if op.where not in WHERE:
                raise ValueError(f"where must be one of {WHERE}, got {op.where!r}")
            grouped.setdefault(op.key, []).append(op)
        total_time = sum(times.values()) if times else 0.0
        groups = []
        for key, members in grouped.items():
            share = None
            if times is not None and total_time > 0:
                share = times.get(key, 0.0) / total_time
            groups.append(
                PlacementGroup(
                    key.where,
                    key.device,
                    key.executor,
                    _sum_or_none(op.count for op in members),
                    _ranked(Counter(op.op_type for op in members)),
                    key.precision,
                    share,
                )
            )
        order = {where: position for position, where in enumerate(WHERE)}
        groups.sort(key=lambda g: (order[g.where], -(g.operations or 0), g.executor))
        operations = _sum_or_none(g.operations for g in groups)
        on_accelerator = time_on_accelerator = None
        if accelerator is not None:
            if operations:
                placed = sum(g.operations or 0 for g in groups if g.where == "accelerator")
                on_accelerator = placed / operations
            if times is not None and total_time > 0:
                time_on_accelerator = sum(
                    g.time_fraction or 0.0 for g in groups if g.where == "accelerator"
                )
        return cls(
            backend,
            device,
            accelerator,
            operations,
            tuple(groups),
            on_accelerator,
            time_on_accelerator,
            source,
            reason,
            tuple(notes),
        )

    # --- reading it ---------------------------------------------------------------------------
    def off_accelerator(self) -> tuple[tuple[str, int], ...]:
        """Operator types (with counts) that run anywhere but the accelerator: on the CPU or on
        another device. Empty when nothing is left out, or when no accelerator was asked for."""
        if self.accelerator is None:
            return ()
        return _merged(g.op_types for g in self.groups if g.where != "accelerator")

    @property
    def fully_placed(self) -> bool | None:
        """True when an accelerator was asked for and every operation the runtime lists runs on
        it; ``None`` when no accelerator was asked for or the runtime listed none."""
        if self.accelerator is None or not self.groups:
            return None
        return all(group.where == "accelerator" for group in self.groups)

    def summary(self) -> str:
        """One line: how much runs on the accelerator, and what is left out."""
        if not self.groups:
            return f"{self.backend} on {self.device}: unknown ({self.reason or 'no report'})"
        if self.accelerator is None:
            where = ", ".join(
                " ".join(filter(None, (g.executor, g.precision, str(g.operations or "?"))))
                for g in self.groups
            )
            total = "?" if self.operations is None else str(self.operations)
            return f"{self.backend} on {self.device}: {total} operations, no accelerator ({where})"
        placed = [g for g in self.groups if g.where == "accelerator"]
        count = _sum_or_none(g.operations for g in placed)
        if self.on_accelerator is not None:
            share = f"{count} of {self.operations} operations ({self.on_accelerator:.1%})"
        elif count is not None:
            share = f"{count} operations (of an unknown total)"
        else:  # the runtime fused them into nodes it does not count inside (the Edge TPU)
            nodes = sum(n for g in placed for _, n in g.op_types)
            share = f"{nodes} compiled segment(s) (the operations inside are not counted)"
        text = f"{self.backend} on {self.device}: {share} on the accelerator"
        if self.time_on_accelerator is not None:
            text += f", {self.time_on_accelerator:.1%} of measured time"
        for where, words in (("cpu", "left on the CPU"), ("other", "on other devices")):
            left = _merged(g.op_types for g in self.groups if g.where == where)
            if left:
                text += f"; {sum(n for _, n in left)} {words}: {_types_text(left)}"
        return text

    def table_lines(self) -> list[str]:
        """The report as lines for a terminal: the summary, one line per group, then where the
        figures come from, what is unknown and why, and the notes."""
        lines = [self.summary()]
        lines.extend(f"  {group.line()}" for group in self.groups)
        lines.append(f"  source: {self.source}")
        if self.reason:
            lines.append(f"  unknown: {self.reason}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return lines


def _merged(op_types: Iterable[tuple[tuple[str, int], ...]]) -> tuple[tuple[str, int], ...]:
    kinds: Counter[str] = Counter()
    for pairs in op_types:
        kinds.update(dict(pairs))
    return _ranked(kinds)


def _ranked(kinds: Counter[str]) -> tuple[tuple[str, int], ...]:
    """Operator types with their counts, most first, then by name."""
    return tuple(sorted(kinds.items(), key=lambda item: (-item[1], item[0])))


def _sum_or_none(values: Iterable[int | None]) -> int | None:
    items = list(values)
    return None if None in items else sum(v for v in items if v is not None)


def _types_text(op_types: Iterable[tuple[str, int]], limit: int = 8) -> str:
    items = list(op_types)
    shown = [name if count == 1 else f"{name} x{count}" for name, count in items[:limit]]
    if len(items) > limit:
        shown.append(f"... ({len(items) - limit} more types)")
    return ", ".join(shown)
