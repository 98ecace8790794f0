"""``edgeinfer.load()``: check the arguments, plan the candidates, choose the one that serves:
the first that opens (``select="first"``), or the fastest measured (``select="fastest"``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from edgeinfer._errors import ConfigurationError
from edgeinfer._kit.contract import PRECISIONS
from edgeinfer._model.chain import FallbackPolicy
from edgeinfer._model.model import Model
from edgeinfer._model.offload import OffloadPolicy
from edgeinfer._model.opening import Loader
from edgeinfer._model.warmup import WarmupInputs
from edgeinfer._planning.detect import devices as detected_devices
from edgeinfer._planning.devices import parse_device_chain
from edgeinfer._planning.formats import ModelSource, ModelUrl
from edgeinfer._planning.plan import Candidate, expand_devices, plan
from edgeinfer._planning.registry import backend_class, names
from edgeinfer._planning.sources import resolve_model_sources

__all__ = ["load"]


def _backend_pins(backend: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if backend is None:
        return None
    pins = (backend,) if isinstance(backend, str) else tuple(backend)
    if not pins or not all(isinstance(name, str) for name in pins):
        raise ConfigurationError(f"backend must be a name or a list of names, got {backend!r}")
    known = names()
    for name in pins:
        if name not in known:
            backend_class(name)  # raises UnknownBackend with the known names
    return pins


def _split_options(
    options: Mapping[str, Any] | None, pins: Sequence[str] | None
) -> dict[str, Mapping[str, Any]]:
    """``options`` is ``{backend: {...}}``, or flat when exactly one backend is pinned."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"options must be a dict, got {type(options).__name__}")
    known = set(names())
    if all(key in known for key in options):
        for key, value in options.items():
            if not isinstance(value, Mapping):
                raise ConfigurationError(f"options[{key!r}] must be a dict of {key} options")
        return dict(options)
    if pins is not None and len(pins) == 1:
        return {pins[0]: options}
    raise ConfigurationError(
        "options must be keyed by backend name, e.g. options={'onnxruntime': {...}}, unless "
        f"exactly one backend is pinned with backend=...; unknown keys: "
        f"{sorted(key for key in options if key not in known)}"
    )


def _named_sources(
    per_backend: dict[str, Mapping[str, Any]],
) -> list[tuple[ModelSource, str]]:
    """A backend's ``url`` option is a model source for it, after ``path`` (a chain that ends in
    a server: ``backend=["onnxruntime", "remote"], options={"remote": {"url": ...}}``); it is
    taken out of the options the backend gets."""
    sources: list[tuple[ModelSource, str]] = []
    for name, given in per_backend.items():
        if "url" in given:
            url = given["url"]
            if not isinstance(url, (str, ModelUrl)):
                raise ConfigurationError(f"options[{name!r}]['url'] must be a URL string")
            source = url if isinstance(url, ModelUrl) else ModelUrl(url)
            sources.extend(resolve_model_sources(source))
            per_backend[name] = {key: value for key, value in given.items() if key != "url"}
    return sources


def _check_selection(
    select: str, max_error: float | None, select_budget: float | None, refresh: bool
) -> None:
    if select not in ("first", "fastest"):
        raise ConfigurationError(f"select must be 'first' or 'fastest', got {select!r}")
    for name, value in (("max_error", max_error), ("select_budget", select_budget)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0
        ):
            raise ConfigurationError(f"{name} must be a positive number, got {value!r}")
    if select == "first" and (max_error, select_budget, refresh) != (None, None, False):
        raise ConfigurationError(
            "max_error, select_budget and refresh apply to select='fastest' only"
        )


def _check_arguments(threads: int | None, precision: str | None, warmup: int) -> None:
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigurationError(f"threads must be a positive int or None, got {threads!r}")
    if precision is not None and precision not in PRECISIONS:
        raise ConfigurationError(
            f"precision must be one of {', '.join(PRECISIONS)} or None, got {precision!r}"
        )
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ConfigurationError(f"warmup must be an int >= 0, got {warmup!r}")


def _policy(fallback: bool | str | FallbackPolicy) -> FallbackPolicy | None:
    if isinstance(fallback, FallbackPolicy):
        return fallback
    if fallback == "eager":
        return FallbackPolicy(eager=True)
    if isinstance(fallback, bool):
        return FallbackPolicy() if fallback else None
    raise ConfigurationError(
        f"fallback must be True, False, 'eager' or a FallbackPolicy, got {fallback!r}"
    )


def load(
    path: str | Path | ModelUrl | Sequence[str | Path | ModelUrl],
    device: str | Sequence[str] = "auto",
    *,
    backend: str | Sequence[str] | None = None,
    fallback: bool | str | FallbackPolicy = True,
    threads: int | None = None,
    precision: str | None = None,
    float_io: bool = False,
    warmup: int = 1,
    warmup_inputs: WarmupInputs | None = None,
    isolate: bool = False,
    options: Mapping[str, Any] | None = None,
    select: str = "first",
    max_error: float | None = None,
    select_budget: float | None = None,
    refresh: bool = False,
    offload: OffloadPolicy | None = None,
) -> Model:
    """Open a model on the best backend and device this machine really has.

    ``path``: a model file, a folder of variants of one model, the URL of a served model
    (``"https://host/v2/models/NAME"``: the ``remote`` backend), or a list of these in preference
    order. ``device``: ``"auto"``, ``"cpu"``, ``"gpu"``, ``"gpu:1"``, ``"npu"``, ``"edgetpu"``,
    ``"edgetpu:usb:0"``..., or a list of these as a chain; an explicit device never silently
    becomes another. ``backend``: pin one backend name or a chain of them. ``fallback``: ``True``
    (default) moves to the next candidate at load and at run time; ``"eager"`` also opens the
    next candidate at load; a ``FallbackPolicy`` sets the circuit breaker; ``False``: the first
    candidate that is tried and fails raises its error, at load and at run time (pairings
    skipped because a backend is not installed are recorded, not raised). ``threads``: intra-op
    threads. ``precision``: ``"fp32"``, ``"fp16"``, ``"bf16"``, ``"int8"`` where the backend
    converts, ``None`` for its default. ``float_io``: quantised models take and return float32.
    ``warmup``: runs at load, which prove the backend works and record the golden output
    ``Model.health()`` compares against; ``warmup_inputs``: representative inputs for them (a
    dict, a sequence or one array, like ``Model.run``), else edgeinfer generates float inputs
    where that is safe and otherwise skips the warm-up with the reason (see
    docs/warmup-and-inputs.md). ``options``: per-backend options,
    ``{name: {...}}``. ``isolate``: run each backend in its own process, so that a crash or a
    hang becomes a ``DeviceError`` (and a fallback) instead of killing this one; then
    ``Model.run(inputs, timeout=...)`` bounds a call. ``select``: ``"first"`` (default) serves
    the first candidate of the plan that opens; ``"fastest"`` opens every candidate, measures
    each for about ``select_budget`` seconds in all (default 2), keeps the fastest whose outputs
    differ from the first's by at most ``max_error`` (relative, default 1e-2) with the same top-1
    class, and caches the choice for this model, machine, runtimes and options (``refresh=True``
    measures again); ``Model.selection`` and ``explain()`` give every figure (see
    docs/selection.md). ``offload``: an ``OffloadPolicy`` that moves the calls to the chain's
    remote candidate (a URL in ``path`` or in ``options={"remote": {"url": ...}}``) while the
    local side is over a latency budget or the system is throttling, and back once it is healthy
    (see docs/remote-and-serving.md).

    Raises ``FileNotFoundError``; ``ConfigurationError`` for bad arguments; ``InvalidInput`` when
    ``warmup_inputs`` do not match the model; ``ModelError`` when the file is unreadable or
    unsafe whichever backend reads it; ``BackendUnavailable`` when the runtimes it needs are not
    installed; otherwise, when no candidate opened, ``NoBackendAvailable``, whose ``attempts`` say
    what each candidate did and whose cause is the last failure's native error. With
    ``fallback=False`` the first candidate's own failure is raised (``ModelIncompatible``,
    ``DeviceError``, ``InferenceError``, ``OutOfMemory``...). Every error raised carries
    ``attempts``.
    """
    load_started = time.perf_counter()
    _check_arguments(threads, precision, warmup)
    _check_selection(select, max_error, select_budget, refresh)
    policy = _policy(fallback)
    if offload is not None and (not isinstance(offload, OffloadPolicy) or policy is None):
        raise ConfigurationError(
            "offload must be an edgeinfer.OffloadPolicy, with fallback enabled (offloading "
            f"moves calls between candidates), got {offload!r} with fallback={fallback!r}"
        )
    chain = parse_device_chain(device)
    pins = _backend_pins(backend)
    per_backend = _split_options(options, pins)
    files = resolve_model_sources(path)
    files += [found for found in _named_sources(per_backend) if found not in files]
    formats = [fmt for _, fmt in files]
    devices = expand_devices(chain, detected_devices(), formats)
    steps = plan(files, devices, pins)
    if offload is not None and not any(
        isinstance(step, Candidate) and step.device.kind == "remote" for step in steps
    ):
        raise ConfigurationError(
            "offload= needs a remote candidate to offload to: give the served model's URL in "
            "path or in options={'remote': {'url': ...}} (and allow the 'remote' device)"
        )
    loader = Loader(
        threads,
        precision,
        bool(float_io),
        warmup,
        warmup_inputs,
        bool(isolate),
        per_backend,
        policy,
        load_started,
        offload,
    )
    if select == "first":
        return loader.first_that_opens(steps)
    from edgeinfer._model.select import DEFAULT_BUDGET, DEFAULT_MAX_ERROR, SelectSettings, fastest
    from edgeinfer._model.selection_cache import selection_key

    limit = DEFAULT_MAX_ERROR if max_error is None else max_error
    budget = DEFAULT_BUDGET if select_budget is None else select_budget
    what = {
        "pins": pins,
        "threads": threads,
        "precision": precision,
        "float_io": bool(float_io),
        "options": per_backend,
        "max_error": limit,
        "isolate": bool(isolate),
    }
    candidates = [step for step in steps if isinstance(step, Candidate)]
    key = selection_key(candidates, [device.id for device in devices], what)
    return fastest(loader, steps, SelectSettings(limit, budget, bool(refresh), key))
