"""OpenVINO's own int8 tooling: NNCF's post-training quantisation of the model read by OpenVINO,
saved as OpenVINO IR (``.xml`` + ``.bin``). Only when ``nncf`` is installed (``pip install
nncf``); OpenVINO runs the result on its CPU, GPU and NPU plugins.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edgeinfer.optimize._recipes.quiet import quiet

__all__ = ["nncf_int8"]

_log = logging.getLogger("edgeinfer")


def nncf_int8(
    model: Path, samples: Sequence[Mapping[str, np.ndarray]], output: Path, device: str
) -> None:
    """Quantise ``model`` (any format OpenVINO reads) with ``nncf.quantize`` calibrated on
    ``samples`` (feeds by input name) for ``device`` (a device kind); write IR to ``output``
    (``.xml``, its ``.bin`` beside it), weights kept as they are (no fp16 compression)."""
    import nncf
    import openvino as ov

    if not samples:
        raise ValueError("int8 quantisation needs at least one calibration sample")
    devices = {"cpu": nncf.TargetDevice.CPU, "gpu": nncf.TargetDevice.GPU,
               "npu": nncf.TargetDevice.NPU}  # fmt: skip
    printed = io.StringIO()  # NNCF draws progress bars with rich on sys.stdout
    with quiet("nncf"), contextlib.redirect_stdout(printed):
        read = ov.Core().read_model(str(model))
        quantized = nncf.quantize(
            read,
            nncf.Dataset([dict(feed) for feed in samples]),
            subset_size=len(samples),
            target_device=devices.get(device, nncf.TargetDevice.ANY),
        )
        ov.save_model(quantized, str(output), compress_to_fp16=False)
    for line in printed.getvalue().splitlines():
        if line.strip():
            _log.debug("nncf: %s", line)
