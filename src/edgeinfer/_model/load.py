"""``edgeinfer.load()``: check the arguments, plan the candidates, open the first that works."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np

from edgeinfer._errors import (
    BackendUnavailable,
    ConfigurationError,
    EdgeInferError,
    InferenceError,
    InvalidInput,
    ModelError,
    ModelIncompatible,
    NoBackendAvailable,
)
from edgeinfer._kit.contract import PRECISIONS, OpenOptions, Session
from edgeinfer._model.chain import Chain, FallbackPolicy, Link, Opener
from edgeinfer._model.inputs import InputChecker
from edgeinfer._model.model import Model
from edgeinfer._model.offload import Offloader, OffloadPolicy
from edgeinfer._model.stats import LatencyRecorder
from edgeinfer._model.warmup import Opened, WarmupInputs, warm_up
from edgeinfer._planning.detect import devices as detected_devices
from edgeinfer._planning.devices import parse_device_chain
from edgeinfer._planning.formats import ModelSource, ModelUrl, resolve_model_sources
from edgeinfer._planning.plan import Candidate, expand_devices, plan
from edgeinfer._planning.registry import backend_class, names
from edgeinfer._types import Attempt

__all__ = ["load"]

_log = logging.getLogger("edgeinfer")
# With isolate=True: how long a backend process may take to open the model, and each warm-up
# call; past it the process is stopped and the candidate has failed (DeviceError).
ISOLATED_START_TIMEOUT = 120.0


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


def _session(candidate: Candidate, options: OpenOptions, isolate: bool) -> Session:
    cls = backend_class(candidate.backend)
    # A backend gets sources of the formats it reads: a ModelUrl only for a format with URL
    # schemes (the remote backend), a Path for every other.
    source = cast(Path, candidate.file)
    if not isolate:
        return cls.open(source, candidate.device, options)
    from edgeinfer._isolation.backend import (  # lazy: keeps import edgeinfer cheap
        IsolatedBackend,
        target_of,
    )

    return IsolatedBackend.start(
        candidate.backend,
        target_of(cls),
        source,
        candidate.device,
        options,
        start_timeout=ISOLATED_START_TIMEOUT,
    )


def _open(
    candidate: Candidate,
    options: OpenOptions,
    warmup: int,
    warmup_inputs: WarmupInputs | None,
    isolate: bool = False,
) -> Opened:
    session = _session(candidate, options, isolate)
    try:
        given = None
        if warmup_inputs is not None and warmup > 0:
            given = InputChecker(session.inputs, session.dim_names())(warmup_inputs)
        bound = ISOLATED_START_TIMEOUT if session.bounded_runs else None
        return warm_up(session, warmup, given, session.metadata(), bound)
    except BaseException:
        session.close()
        raise


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


def _model(
    first: Candidate,
    opened: Opened,
    rest: Sequence[Candidate],
    attempts: Sequence[Attempt],
    policy: FallbackPolicy | None,
    opener: Opener,
    load_started: float,
    offload: OffloadPolicy | None = None,
) -> Model:
    link = Link(first, opened.session)
    link.golden, link.golden_feeds = opened.golden, opened.golden_feeds
    chain = Chain([link, *(Link(candidate) for candidate in rest)], opener, policy)
    recorder = LatencyRecorder()
    if offload is not None and any(k.remote for k in chain.links) and not link.remote:
        chain.attach_offloader(Offloader(offload, recorder))
    recorder.load_ms = (time.perf_counter() - load_started) * 1e3
    recorder.warmup = opened.warmup_us
    notes = [opened.note] if opened.note else []
    return Model(chain, attempts, notes, recorder)


def _final_error(attempts: Sequence[Attempt], errors: Sequence[EdgeInferError]) -> EdgeInferError:
    """The error to raise when no candidate opened: the most specific one that is still true."""
    model_errors = [
        e for e in errors if isinstance(e, ModelError) and not isinstance(e, ModelIncompatible)
    ]
    if errors and len(model_errors) == len(errors):
        final: EdgeInferError = model_errors[
            0
        ]  # the file itself is bad, whichever backend reads it
    elif errors and all(isinstance(e, BackendUnavailable) for e in errors):
        final = errors[0]
    elif not errors and any(a.error == "BackendUnavailable" for a in attempts):
        # Nothing was tried because runtimes are missing: say which one to install.
        missing = [a for a in attempts if a.error == "BackendUnavailable"]
        first = next((a for a in missing if a.hint), missing[0])
        final = BackendUnavailable(first.backend, first.reason, first.hint)
    else:
        final = NoBackendAvailable("no backend could open the model:", attempts)
    final.attempts = tuple(attempts)  # type: ignore[attr-defined]
    if errors and final not in errors:
        final.__cause__ = errors[-1]  # keep the native traceback of the last failure
    return final


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
    ``Model.run(inputs, timeout=...)`` bounds a call. ``offload``: an ``OffloadPolicy`` that
    moves the calls to the chain's remote candidate (a URL in ``path`` or in
    ``options={"remote": {"url": ...}}``) while the local side is over a latency budget or the
    system is throttling, and back once it is healthy (see docs/remote-and-serving.md).

    Raises ``FileNotFoundError``; ``ConfigurationError`` for bad arguments; ``InvalidInput`` when
    ``warmup_inputs`` do not match the model; ``ModelError`` when the file is unreadable or
    unsafe whichever backend reads it; ``BackendUnavailable`` when the runtimes it needs are not
    installed; otherwise, when no candidate opened, the failure itself where there was one
    candidate (``ModelIncompatible``, ``DeviceError``, ``InferenceError``, ``OutOfMemory``) or
    ``NoBackendAvailable``, whose ``attempts`` say what each candidate did. Every error raised
    carries ``attempts``.
    """
    load_started = time.perf_counter()
    _check_arguments(threads, precision, warmup)
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
    steps = plan(files, expand_devices(chain, detected_devices(), formats), pins)
    if offload is not None and not any(
        isinstance(step, Candidate) and step.device.kind == "remote" for step in steps
    ):
        raise ConfigurationError(
            "offload= needs a remote candidate to offload to: give the served model's URL in "
            "path or in options={'remote': {'url': ...}} (and allow the 'remote' device)"
        )
    attempts: list[Attempt] = []
    errors: list[EdgeInferError] = []

    def options_for(candidate: Candidate) -> OpenOptions:
        return OpenOptions(
            threads, precision, bool(float_io), per_backend.get(candidate.backend, {})
        )

    for position, candidate in enumerate(steps):
        if isinstance(candidate, Attempt):
            attempts.append(candidate)
            _log.info("%s", candidate.describe())
            continue
        started = time.perf_counter()
        try:
            opened = _open(candidate, options_for(candidate), warmup, warmup_inputs, bool(isolate))
        except (ConfigurationError, InvalidInput, FileNotFoundError):
            raise
        except Exception as error:
            if not isinstance(error, EdgeInferError):  # a backend bug: still a failed candidate
                wrapped = InferenceError(f"{type(error).__name__}: {error}")
                wrapped.__cause__ = error
                error = wrapped
            attempts.append(candidate.failed(error, time.perf_counter() - started))
            errors.append(error)
            _log.info("%s", attempts[-1].describe())
            if policy is None:
                error.attempts = tuple(attempts)  # type: ignore[attr-defined]
                raise error
            continue
        seconds = time.perf_counter() - started
        attempts.append(
            candidate.attempt(True, f"opened in {seconds * 1e3:.1f} ms", seconds=seconds)
        )
        if errors:
            _log.warning(
                "%s on %s serves %s after %d candidate(s) failed to open; see Model.explain()",
                candidate.backend,
                candidate.device.id,
                candidate.file.name,
                len(errors),
            )
        rest = [step for step in steps[position + 1 :] if isinstance(step, Candidate)]

        def opener(
            later: Candidate,
        ) -> tuple[Session, dict[str, np.ndarray] | None, dict[str, np.ndarray] | None]:
            found = _open(later, options_for(later), warmup, warmup_inputs, bool(isolate))
            return found.session, found.golden, found.golden_feeds

        return _model(candidate, opened, rest, attempts, policy, opener, load_started, offload)
    raise _final_error(attempts, errors)
