"""Check a call's inputs against the model's specs, with every check precomputed at load."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from edgeinfer._errors import InvalidInput
from edgeinfer._types import TensorSpec

__all__ = ["InputChecker", "differ_fix"]


class _Check:
    """The precomputed check of one input: its dtype, rank and fixed dimensions."""

    __slots__ = ("dtype", "exact", "fixed", "name", "rank", "spec")

    def __init__(self, spec: TensorSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.dtype = spec.dtype
        self.rank = None if spec.shape is None else len(spec.shape)
        shape = spec.shape or ()
        self.fixed = tuple((axis, size) for axis, size in enumerate(shape) if size is not None)
        static = spec.shape is not None and all(d is not None for d in spec.shape)
        self.exact = tuple(spec.shape) if static and spec.shape is not None else None

    def __call__(self, value: Any) -> np.ndarray:
        array = value if type(value) is np.ndarray else self._to_array(value)
        if array.dtype is not self.dtype and array.dtype != self.dtype:
            self._refuse_dtype(array)
        if self.exact is not None:  # the common case: one tuple comparison
            if array.shape != self.exact:
                self._refuse_shape(array.shape)
        elif self.rank is not None:
            self._check_dims(array.shape)
        return array

    def _refuse_dtype(self, array: np.ndarray) -> None:
        hint = ""
        if array.dtype.kind == self.dtype.kind and array.dtype.itemsize == self.dtype.itemsize:
            hint = f"; convert with .astype('={self.dtype.str[1:]}') (byte order)"
        elif array.dtype.kind in "fiub" and self.dtype.kind in "fiub":
            hint = f"; convert with .astype(np.{self.dtype.name}) if that is what you mean"
        raise InvalidInput(
            f"input {self.name!r}: expected dtype {self.dtype.name}, got "
            f"{array.dtype.name if array.dtype.isnative else array.dtype.str}{hint}"
        )

    def _refuse_shape(self, shape: tuple[int, ...]) -> None:
        self._check_dims(shape)
        raise AssertionError("unreachable: a shape that differs fails a dimension check")

    def _check_dims(self, shape: tuple[int, ...]) -> None:
        if len(shape) != self.rank:
            raise InvalidInput(
                f"input {self.name!r}: expected {self.rank} dimensions {self._want()}, got "
                f"{len(shape)} with shape {list(shape)}"
            )
        for axis, size in self.fixed:
            if shape[axis] != size:
                raise InvalidInput(
                    f"input {self.name!r}: expected shape {self._want()}, got {list(shape)} "
                    f"(dimension {axis} is {shape[axis]}, the model needs {size})"
                )

    def _to_array(self, value: Any) -> np.ndarray:
        try:
            return np.asarray(value)
        except Exception as error:
            raise InvalidInput(
                f"input {self.name!r}: cannot convert {type(value).__name__} to an array: {error}"
            ) from error

    def _want(self) -> str:
        shape = self.spec.shape or ()
        return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


class _ContainerCheck:
    """An ONNX sequence (a list of arrays) or optional (an array or ``None``) input."""

    __slots__ = ("element", "name", "optional", "sequence", "spec")

    def __init__(self, spec: TensorSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.element = _Check(spec)
        self.optional = spec.kind.startswith("optional")
        self.sequence = spec.kind.endswith("sequence")

    def __call__(self, value: Any) -> Any:
        if value is None:
            if self.optional:
                return None
            raise InvalidInput(f"input {self.name!r} is a {self.spec.kind}, not optional: got None")
        if not self.sequence:
            return self.element(value)
        if isinstance(value, np.ndarray) or not isinstance(value, (list, tuple)):
            raise InvalidInput(
                f"input {self.name!r} is a sequence: pass a list of arrays, got "
                f"{type(value).__name__}"
            )
        return [self.element(item) for item in value]


def _check_for(spec: TensorSpec) -> _Check | _ContainerCheck:
    return _Check(spec) if spec.kind == "tensor" else _ContainerCheck(spec)


def _shared_symbols(
    symbols: Mapping[str, Sequence[str | None]],
) -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """Dynamic dimensions named alike in several places: ``(symbol, ((input, axis), ...))``."""
    places: dict[str, list[tuple[str, int]]] = {}
    for name, dims in symbols.items():
        for axis, symbol in enumerate(dims):
            if symbol and symbol != "?":  # "?" is ONNX's anonymous dimension: it ties nothing
                places.setdefault(symbol, []).append((name, axis))
    return tuple((symbol, tuple(where)) for symbol, where in places.items() if len(where) > 1)


class InputChecker:
    """Turn the forms ``Model.run`` accepts (dict, sequence, one array) into checked feeds.

    ``symbols`` optionally names each input's dynamic dimensions (``{"a": ("batch", None)}``); a
    name shared by several dimensions must then get one size in a call.
    """

    __slots__ = (
        "_by_name",
        "_checks",
        "_names",
        "_shared",
        "_single",
        "_single_dtype",
        "_single_exact",
        "_single_name",
    )

    def __init__(
        self,
        specs: Sequence[TensorSpec],
        symbols: Mapping[str, Sequence[str | None]] | None = None,
    ) -> None:
        self._checks = tuple(_check_for(spec) for spec in specs)
        self._by_name = {check.name: check for check in self._checks}
        self._names = tuple(self._by_name)
        ranks = {check.name: check.rank for check in self._checks if isinstance(check, _Check)}
        known = {
            name: tuple(dims)[: ranks[name]] if ranks[name] is not None else tuple(dims)
            for name, dims in (symbols or {}).items()
            if name in ranks
        }
        self._shared = _shared_symbols(known)
        first = self._checks[0] if len(self._checks) == 1 else None
        self._single = first if isinstance(first, _Check) and not self._shared else None
        # The hottest path, inlined: one static input of the exact dtype and shape.
        self._single_exact = self._single.exact if self._single is not None else None
        self._single_dtype = self._single.dtype if self._single is not None else None
        self._single_name = self._single.name if self._single is not None else ""

    def __call__(self, inputs: Any) -> dict[str, np.ndarray]:
        if (
            type(inputs) is np.ndarray
            and inputs.dtype is self._single_dtype
            and inputs.shape == self._single_exact
        ):  # the hot path: one array, exactly as the model wants it
            return {self._single_name: inputs}
        single = self._single
        if single is not None and type(inputs) is np.ndarray:  # one array, other checks
            return {single.name: single(inputs)}
        feeds = self._feeds(inputs)
        if self._shared:
            self._check_shared(feeds)
        return feeds

    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        checks = self._checks
        if type(inputs) is dict or isinstance(inputs, Mapping):
            if len(inputs) != len(checks) or any(name not in inputs for name in self._names):
                self._raise_names(inputs)
            return {check.name: check(inputs[check.name]) for check in checks}
        if isinstance(inputs, np.ndarray) or np.isscalar(inputs):
            if len(checks) != 1:
                raise InvalidInput(
                    f"got one array, but the model has {len(checks)} inputs ({self._listing()}); "
                    "pass a dict by name or a sequence in input order"
                )
            return {checks[0].name: checks[0](inputs)}
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != len(checks):
                raise InvalidInput(
                    f"got a sequence of {len(inputs)} inputs, but the model has {len(checks)} "
                    f"({self._listing()})"
                )
            return {check.name: check(value) for check, value in zip(checks, inputs, strict=True)}
        raise InvalidInput(
            f"inputs must be a dict of name -> array, a sequence of arrays in input order, or one "
            f"array for a one-input model; got {type(inputs).__name__}"
        )

    def _check_shared(self, feeds: Mapping[str, np.ndarray]) -> None:
        for symbol, places in self._shared:
            found = [
                (name, axis, feeds[name].shape[axis])
                for name, axis in places
                if isinstance(feeds[name], np.ndarray) and axis < feeds[name].ndim
            ]
            if len({size for _, _, size in found}) > 1:
                where = ", ".join(
                    f"{name!r} dimension {axis} = {size}" for name, axis, size in found
                )
                raise InvalidInput(
                    f"dynamic dimension {symbol!r} must have one size in a call, got {where}"
                )

    def _listing(self) -> str:
        return ", ".join(str(check.spec) for check in self._checks) or "none"

    def _raise_names(self, inputs: Mapping[Any, Any]) -> None:
        missing = [name for name in self._names if name not in inputs]
        unknown = [repr(name) for name in inputs if name not in self._by_name]
        parts = []
        if missing:
            parts.append(f"missing input(s) {', '.join(map(repr, missing))}")
        if unknown:
            parts.append(f"unknown input(s) {', '.join(unknown)}")
        raise InvalidInput(f"{'; '.join(parts)}; the model's inputs are: {self._listing()}")


def differ_fix(specs: Sequence[TensorSpec]) -> str:
    """The fix to suggest when another candidate's inputs differ from the caller's: float_io
    only where that candidate's inputs are quantised (it converts dtypes, not shapes or
    layouts)."""
    if any(spec.quantization is not None for spec in specs):
        return "; load with float_io=True to let a quantised candidate take float inputs"
    return "; a candidate whose input shapes or layout differ (NHWC, NCHW) cannot take them"
