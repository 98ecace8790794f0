"""Input validation in ``Model.run``, on real ONNX Runtime models, including property tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edgeinfer
from edgeinfer import InvalidInput

pytestmark = pytest.mark.backend("onnxruntime")

DTYPES = [np.float32, np.float64, np.float16, np.int8, np.int32, np.int64, np.uint8, np.bool_]


@pytest.fixture(scope="module")
def multi(multi_io: Path) -> edgeinfer.Model:
    return edgeinfer.load(multi_io, backend="onnxruntime")


@pytest.fixture(scope="module")
def dyn(dynamic_dims: Path) -> edgeinfer.Model:
    return edgeinfer.load(dynamic_dims, backend="onnxruntime")


@pytest.fixture(scope="module")
def batch(dynamic_batch: Path) -> edgeinfer.Model:
    return edgeinfer.load(dynamic_batch, backend="onnxruntime")


def good_multi() -> dict[str, np.ndarray]:
    return {
        "image": np.zeros((1, 3, 4, 4), np.float32),
        "mask": np.zeros((1, 4), np.bool_),
        "ids": np.zeros((1, 4), np.int64),
        "scale": np.ones((1,), np.float16),
    }


def test_missing_input_is_named(multi: edgeinfer.Model) -> None:
    feeds = good_multi()
    del feeds["ids"]
    with pytest.raises(InvalidInput, match=r"missing input\(s\) 'ids'"):
        multi.run(feeds)


def test_unknown_input_is_named(multi: edgeinfer.Model) -> None:
    feeds = good_multi()
    feeds["idz"] = feeds.pop("ids")
    with pytest.raises(InvalidInput, match=r"missing input\(s\) 'ids'; unknown input\(s\) 'idz'"):
        multi.run(feeds)


def test_wrong_dtype_names_expected_and_got_and_does_not_cast(multi: edgeinfer.Model) -> None:
    feeds = good_multi()
    feeds["image"] = feeds["image"].astype(np.float64)
    with pytest.raises(InvalidInput, match="'image': expected dtype float32, got float64"):
        multi.run(feeds)


def test_byte_swapped_array_gets_a_hint(multi: edgeinfer.Model) -> None:
    feeds = good_multi()
    feeds["image"] = feeds["image"].astype(">f4")
    with pytest.raises(InvalidInput, match="byte order"):
        multi.run(feeds)


def test_wrong_rank_and_shape(multi: edgeinfer.Model) -> None:
    feeds = good_multi()
    feeds["image"] = np.zeros((3, 4, 4), np.float32)
    with pytest.raises(InvalidInput, match="'image': expected 4 dimensions"):
        multi.run(feeds)
    feeds["image"] = np.zeros((1, 3, 4, 5), np.float32)
    with pytest.raises(InvalidInput, match=r"dimension 3 is 5, the model needs 4"):
        multi.run(feeds)


def test_sequence_length_and_single_array_for_many_inputs(multi: edgeinfer.Model) -> None:
    with pytest.raises(InvalidInput, match="sequence of 2 inputs, but the model has 4"):
        multi.run([np.zeros(1), np.zeros(1)])
    with pytest.raises(InvalidInput, match="got one array, but the model has 4 inputs"):
        multi.run(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(InvalidInput, match="got set"):
        multi.run({1, 2})  # type: ignore[arg-type]


def test_dynamic_dimensions_accept_any_size(dyn: edgeinfer.Model) -> None:
    assert dyn.inputs[0].shape == (None, 3, None, None)
    for shape in [(1, 3, 2, 2), (4, 3, 7, 1)]:
        x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(dyn.run(x)["y"], np.maximum(x, 0))
    with pytest.raises(InvalidInput, match="dimension 1 is 2, the model needs 3"):
        dyn.run(np.zeros((1, 2, 2, 2), np.float32))


def test_lists_are_converted_but_must_give_the_exact_dtype(batch: edgeinfer.Model) -> None:
    with pytest.raises(InvalidInput, match="expected dtype float32, got float64"):
        batch.run([[[0.0] * 8]])
    weights = batch.run(np.eye(8, dtype=np.float32))["y"]
    assert weights.shape == (8, 4)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shape=st.lists(st.integers(min_value=0, max_value=5), min_size=0, max_size=5),
    dtype=st.sampled_from(DTYPES),
)
def test_random_shapes_and_dtypes_run_or_raise_invalid_input(
    batch: edgeinfer.Model, shape: list[int], dtype: type
) -> None:
    """Property: whatever the caller passes, the model runs or raises InvalidInput — no crash."""
    array = np.zeros(shape, dtype=dtype)
    try:
        result = batch.run(array)
    except InvalidInput:
        valid = dtype is np.float32 and len(shape) == 2 and shape[1] == 8
        assert not valid or shape[0] == 0  # only a truly invalid input may be refused
        return
    assert dtype is np.float32
    assert result["y"].shape == (shape[0], 4)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(st.sampled_from(["image", "mask", "ids", "scale", "other", ""]), max_size=6),
    dtype=st.sampled_from(DTYPES),
    rank=st.integers(min_value=0, max_value=5),
)
def test_random_feed_dicts_run_or_raise_invalid_input(
    multi: edgeinfer.Model, names: list[str], dtype: type, rank: int
) -> None:
    feeds = {name: np.zeros((1,) * rank, dtype=dtype) for name in names}
    # No single dtype fits all four inputs, so every such feed must be refused, with a reason.
    with pytest.raises(InvalidInput, match=r"input|inputs"):
        multi.run(feeds)


def test_dim_names_that_do_not_fit_the_inputs_are_ignored() -> None:
    from edgeinfer._model.inputs import InputChecker

    spec = edgeinfer.TensorSpec("a", (None, 2), np.dtype(np.float32))
    checker = InputChecker([spec], {"a": ("n", None, "extra"), "ghost": ("n",)})
    feeds = checker(np.zeros((3, 2), np.float32))
    assert feeds["a"].shape == (3, 2)
