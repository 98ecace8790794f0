"""``BackendContract``: the contract suite every backend passes, shipped for third-party backends.

Subclass it in your backend's tests, name the backend, and give a model in its format::

    import pytest
    from edgeinfer.testing import BackendContract

    class TestMyRuntime(BackendContract):
        backend = "myruntime"                 # its registry name

        @pytest.fixture
        def model_path(self, tmp_path):
            return build_a_small_model(tmp_path)   # a real model your runtime runs

pytest then collects the checks below for it. They open the backend the way ``load()`` does
(``Backend.open`` from the registry, then ``edgeinfer.load``) and check what the contract
promises: cheap, cached, serialisable ``availability()``; class data the registry understands;
specs fixed once open and well formed; every output returned by name, matching its spec;
arrays that belong to the caller (the next call does not overwrite them); an idempotent
``close()`` after which ``run`` raises an edgeinfer error; ``ModelError`` for a corrupt file;
correct results from concurrent ``run`` calls where ``thread_safe`` is claimed; the same
results through ``edgeinfer.load``. Tests skip with the backend's own reason where it is
unavailable. Override ``sample_inputs`` when random data does not suit the model.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import edgeinfer
from edgeinfer._errors import EdgeInferError, ModelError
from edgeinfer._kit.contract import Backend, OpenOptions, Session
from edgeinfer._planning.devices import DEVICE_KINDS, DeviceRequest, parse_device
from edgeinfer._planning.formats import format_names
from edgeinfer._planning.registry import backend_class
from edgeinfer._types import Availability, TensorSpec

__all__ = ["BackendContract"]


class BackendContract:
    """The contract suite; see the module docstring. Set ``backend`` and a ``model_path``
    fixture; optionally ``device`` (default ``"cpu"``), ``options`` (the backend's own
    ``load(options=...)``), ``dynamic_size`` (the size given to dynamic dimensions)."""

    backend: ClassVar[str]
    device: ClassVar[str] = "cpu"
    options: ClassVar[Mapping[str, Any]] = {}
    dynamic_size: ClassVar[int] = 1

    # --- what a subclass gives ------------------------------------------------------------
    @pytest.fixture
    def model_path(self) -> Path:
        raise NotImplementedError("define a model_path fixture returning a model file")

    def sample_inputs(self, specs: tuple[TensorSpec, ...], seed: int) -> dict[str, np.ndarray]:
        """Inputs for a call: random values of each input's dtype and shape."""
        rng = np.random.default_rng(seed)
        feeds: dict[str, np.ndarray] = {}
        for spec in specs:
            shape = tuple(self.dynamic_size if d is None else d for d in spec.shape or ())
            if spec.dtype == np.bool_:
                feeds[spec.name] = rng.random(shape) > 0.5
            elif spec.dtype.kind in "iu":
                feeds[spec.name] = rng.integers(0, 10, shape).astype(spec.dtype)
            else:
                feeds[spec.name] = rng.standard_normal(shape).astype(spec.dtype)
        return feeds

    # --- fixtures -------------------------------------------------------------------------
    @pytest.fixture
    def backend_class(self, model_path: Path) -> type[Backend]:
        # model_path first: a subclass's fixtures may register the backend and its format
        cls = backend_class(self.backend)
        found = cls.availability()
        if not found.available:
            pytest.skip(f"{self.backend}: {found.reason} ({found.hint})")
        return cls

    def _open(self, cls: type[Backend], path: Path) -> Session:
        device = parse_device(self.device)
        if device is None:  # "auto"
            device = DeviceRequest("auto", choices=tuple(cls.devices), auto=True)
        return cls.open(path, device, OpenOptions(extra=dict(self.options)))

    @pytest.fixture
    def session(self, backend_class: type[Backend], model_path: Path) -> Iterator[Session]:
        opened = self._open(backend_class, model_path)
        yield opened
        opened.close()

    # --- the class ------------------------------------------------------------------------
    def test_availability_is_cheap_cached_and_serialisable(
        self, backend_class: type[Backend]
    ) -> None:
        first = backend_class.availability()
        assert isinstance(first, Availability)
        assert backend_class.availability() == first
        json.dumps(first.to_dict())

    def test_class_data_is_what_the_registry_understands(
        self, backend_class: type[Backend]
    ) -> None:
        assert backend_class.name == self.backend
        assert backend_class.formats, "a backend reads at least one format"
        assert set(backend_class.formats) <= set(format_names()), backend_class.formats
        assert set(backend_class.devices) <= set(DEVICE_KINDS), backend_class.devices

    # --- an open session ------------------------------------------------------------------
    def test_specs_are_fixed_and_well_formed(self, session: Session) -> None:
        assert session.inputs == session.inputs
        assert session.outputs == session.outputs
        names = [spec.name for spec in session.inputs + session.outputs]
        assert session.outputs, "a model has at least one output"
        assert len({spec.name for spec in session.inputs}) == len(session.inputs), names
        assert len({spec.name for spec in session.outputs}) == len(session.outputs), names
        for spec in session.inputs + session.outputs:
            assert isinstance(spec, TensorSpec)
            assert isinstance(spec.dtype, np.dtype)
            assert spec.shape is None or all(
                d is None or (isinstance(d, int) and d >= 0) for d in spec.shape
            )
            json.dumps(spec.to_dict())
        assert isinstance(session.device, str)
        assert session.device
        details = session.details()
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in details.items())

    def test_run_returns_every_output_by_name_matching_its_spec(self, session: Session) -> None:
        result = session.run(self.sample_inputs(session.inputs, 0))
        assert list(result) == [spec.name for spec in session.outputs]
        for spec in session.outputs:
            array = result[spec.name]
            assert isinstance(array, np.ndarray), spec.name
            assert array.dtype == spec.dtype, spec.name
            if spec.shape is not None:
                assert array.ndim == len(spec.shape), spec.name
                for got, want in zip(array.shape, spec.shape, strict=True):
                    assert want is None or got == want, spec.name

    def test_outputs_belong_to_the_caller(self, session: Session) -> None:
        first = session.run(self.sample_inputs(session.inputs, 1))
        kept = {name: array.copy() for name, array in first.items()}
        session.run(self.sample_inputs(session.inputs, 2))
        for name, array in first.items():
            np.testing.assert_array_equal(array, kept[name], err_msg=f"output {name!r}")

    def test_runs_are_deterministic(self, session: Session) -> None:
        feeds = self.sample_inputs(session.inputs, 3)
        first, second = session.run(feeds), session.run(feeds)
        for name in first:
            np.testing.assert_array_equal(first[name], second[name], err_msg=f"output {name!r}")

    def test_concurrent_runs_are_correct_where_claimed(self, session: Session) -> None:
        if not session.thread_safe:
            pytest.skip(f"{self.backend} does not claim thread_safe")
        feeds = [self.sample_inputs(session.inputs, 10 + k) for k in range(4)]
        expected = [session.run(f) for f in feeds]
        failures: list[str] = []

        def worker(index: int) -> None:
            try:
                for _ in range(10):
                    got = session.run(feeds[index])
                    for name, array in got.items():
                        if not np.array_equal(array, expected[index][name]):
                            failures.append(f"thread {index}: output {name!r} differs")
            except Exception as error:  # reported by the assertion below
                failures.append(f"thread {index}: {type(error).__name__}: {error}")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not failures, failures

    def test_close_is_idempotent_and_final(
        self, backend_class: type[Backend], model_path: Path
    ) -> None:
        opened = self._open(backend_class, model_path)
        feeds = self.sample_inputs(opened.inputs, 4)
        opened.close()
        opened.close()
        with pytest.raises(EdgeInferError):
            opened.run(feeds)

    def test_a_corrupt_file_is_a_model_error(
        self, backend_class: type[Backend], model_path: Path, tmp_path: Path
    ) -> None:
        if model_path.is_dir():
            pytest.skip("the model is a folder; corrupting one file of it proves little")
        corrupt = tmp_path / "corrupt" / model_path.name
        corrupt.parent.mkdir()
        data = model_path.read_bytes()
        corrupt.write_bytes(data[: max(1, len(data) // 3)] + b"\x07not a model\xff" * 8)
        with pytest.raises(ModelError):
            self._open(backend_class, corrupt)

    # --- through edgeinfer.load -----------------------------------------------------------
    def test_load_serves_the_same_results(
        self, backend_class: type[Backend], session: Session, model_path: Path
    ) -> None:
        options = {self.backend: dict(self.options)} if self.options else None
        feeds = self.sample_inputs(session.inputs, 5)
        expected = session.run(feeds)
        with edgeinfer.load(
            model_path, device=self.device, backend=self.backend, options=options
        ) as model:
            assert model.backend == self.backend
            assert [s.name for s in model.inputs] == [s.name for s in session.inputs]
            got = model.run(feeds)
        assert list(got) == list(expected)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"output {name!r}")
