"""Test, lint and type-check edgeinfer: ``nox -l`` lists the sessions.

Python versions: 3.10 to 3.13 where present (under pyenv: ``PYENV_VERSION=3.10.13:3.11.7:3.12.1:
3.13.0 nox``); a missing interpreter is skipped, not an error.
"""

from __future__ import annotations

import json

import nox

nox.options.sessions = ["tests", "bare", "lint", "typecheck", "docs"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
# backend name -> the pip extra that brings its runtime. Each backend gets a session below.
BACKEND_EXTRAS = {
    "onnxruntime": "onnx",
    "litert": "litert",
    "edgetpu": "edgetpu",
    "openvino": "openvino",
    "coreml": "coreml",
    "tensorrt": "tensorrt",
    "ncnn": "ncnn",
    "mnn": "mnn",
    "executorch": "executorch",
    "rknn": "rknn",
    "hailo": "hailo",
    "tvm": "tvm",
}


def _installable_extras(session: nox.Session) -> list[str]:
    """The extras whose runtimes install on this machine and Python (others are skipped)."""
    extras = []
    # TensorRT's wheels come from NVIDIA's own index (its session installs them from there);
    # ExecuTorch brings torch (its own session chooses the build).
    for extra in sorted(set(BACKEND_EXTRAS.values()) - {"tensorrt", "executorch"}):
        try:
            session.install("-q", f".[{extra}]", silent=True)
        except Exception:  # a runtime with no wheel for this platform/Python
            session.log(f"extra {extra!r} does not install here; its tests will skip")
            continue
        extras.append(extra)
    return extras


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite with every backend that installs here."""
    session.install("-q", "-e", ".[test]")
    _installable_extras(session)
    session.run("python", "-m", "pytest", *session.posargs)


def _backend_session(session: nox.Session, backend: str) -> None:
    session.install("-q", "-e", f".[test,{BACKEND_EXTRAS[backend]}]")
    report = session.run("python", "-m", "edgeinfer", "--json", silent=True)
    rows = {row["name"]: row for row in json.loads(str(report))["backends"]}
    row = rows[backend]
    if not row["available"]:
        session.skip(f"{backend}: {row['reason']} ({row['hint']})")
    session.run("python", "-m", "pytest", "--backend", backend, *session.posargs)


@nox.session(python=PYTHONS)
def onnxruntime(session: nox.Session) -> None:
    """ONNX Runtime: contract and backend tests."""
    _backend_session(session, "onnxruntime")


@nox.session(python=PYTHONS)
def litert(session: nox.Session) -> None:
    """LiteRT (TFLite): contract and backend tests."""
    _backend_session(session, "litert")


@nox.session(python=PYTHONS)
def openvino(session: nox.Session) -> None:
    """OpenVINO: contract tests, fp32 parity with ONNX Runtime, precision and devices."""
    _backend_session(session, "openvino")


@nox.session(python=PYTHONS)
def ncnn(session: nox.Session) -> None:
    """NCNN: contract, parity with ONNX Runtime on the same weights, precision, errors."""
    _backend_session(session, "ncnn")


@nox.session(python=PYTHONS)
def mnn(session: nox.Session) -> None:
    """MNN: models converted from ONNX with MNN's converter; contract, parity, errors."""
    _backend_session(session, "mnn")


@nox.session(python=PYTHONS)
def executorch(session: nox.Session) -> None:
    """ExecuTorch: .pte test programs exported with torch here, then contract and parity.

    torch is installed first, pinned, so the executorch extra does not pull another build (on
    the project's machines ``torch==2.13.0`` is a CPU wheel on local disk; elsewhere pip
    downloads it). Without a wheel for this platform and Python, the session skips."""
    try:
        session.install("-q", "torch==2.13.0")
        session.install("-q", "-e", ".[test,executorch]")
    except Exception:
        session.skip("torch 2.13.0 or executorch has no wheel for this platform and Python")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "tests/test_executorch.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS)
def tvm(session: nox.Session) -> None:
    """Apache TVM: small models compiled for real, parity with ONNX Runtime, the module cache,
    ahead-of-time compilation, refused modules falling back, a short MetaSchedule tuning run."""
    _backend_session(session, "tvm")


@nox.session(python=PYTHONS[-1:])
def rknn(session: nox.Session) -> None:
    """Rockchip NPU: detection and the "not here, how to get it" paths everywhere; the runtime
    test only on a Rockchip board with rknn-toolkit-lite2 (marked hardware)."""
    session.install("-q", "-e", ".[test,rknn]")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "tests/test_rknn.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS[-1:])
def hailo(session: nox.Session) -> None:
    """Hailo: detection and the unavailable paths everywhere; the runtime test only with a
    Hailo device and HailoRT's Python package (which is not on PyPI)."""
    session.install("-q", "-e", ".[test,hailo]")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "tests/test_hailo.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS[-1:])
def coreml(session: nox.Session) -> None:
    """Core ML: spec reading and errors everywhere; predictions only on macOS (else skipped)."""
    session.install("-q", "-e", ".[test,coreml]")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "tests/test_coreml.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS[-1:])
def tensorrt(session: nox.Session) -> None:
    """TensorRT: detection, cache keys and errors everywhere; engines only with an NVIDIA GPU.

    TensorRT's wheels come from NVIDIA's package index; without them the runtime tests skip
    with the detector's reason."""
    session.install("-q", "-e", ".[test]")
    try:
        session.install("-q", ".[tensorrt]", "--extra-index-url", "https://pypi.nvidia.com")
    except Exception:  # no NVIDIA index or no wheel here: the non-hardware tests still run
        session.log("TensorRT did not install here; its runtime tests will skip")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "tests/test_tensorrt.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS[-1:])
def edgetpu(session: nox.Session) -> None:
    """Coral Edge TPU: detection and diagnosis always; device runs where one is plugged in.

    The diagnosis tests run everywhere; with no libedgetpu the backend is unavailable and only
    they run (the real-device test skips with the detector's reason)."""
    session.install("-q", "-e", ".[test,edgetpu]")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "tests/test_edgetpu.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS)
def placement_ep(session: nox.Session) -> None:
    """Placement with an execution provider that takes part of a graph: the onnxruntime-openvino
    build (OpenVINO's provider, on this CPU) in place of onnxruntime; skipped where it has no
    wheel for this platform and Python."""
    session.install("-q", "-e", ".[test]")
    session.run("python", "-m", "pip", "uninstall", "-y", "-q", "onnxruntime")
    try:
        session.install("-q", "onnxruntime-openvino")
    except Exception:
        session.skip("onnxruntime-openvino does not install here")
    session.run("python", "-m", "pytest", "tests/test_placement.py", "-rs", *session.posargs)


@nox.session(python=PYTHONS[-1:])
def serve(session: nox.Session) -> None:
    """The remote backend against a real server: python -m edgeinfer.serve (KServe's
    ModelServer) on loopback; the contract suite, parity, failures, TLS, offloading.

    KServe takes about a minute to install (30 packages), so `test` leaves it out and these
    tests skip there with the reason."""
    session.install("-q", "-e", ".[test,serve]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_remote.py",
        "tests/test_remote_planning.py",
        "tests/test_offload.py",
        "-rs",
        *session.posargs,
    )


@nox.session(python=PYTHONS[-1:])
def conformance(session: nox.Session) -> None:
    """ONNX backend node tests through edgeinfer.load against raw onnxruntime and OpenVINO.

    Opt-in (a minute or two on two cores, not in the default sessions). The node test data ships
    in the onnx 1.18.0 wheel: pip fetches it into edgeinfer's cache folder on first use; without
    the package registry the tests skip. ``python tests/conformance.py`` writes the report."""
    session.install("-q", "-e", ".[test,onnx,openvino]")
    session.run(
        "python",
        "-m",
        "pytest",
        "tests/test_conformance.py",
        "-m",
        "conformance",
        "-rs",
        *session.posargs,
        env={"EDGEINFER_CONFORMANCE": "1"},
    )


@nox.session(python=PYTHONS[-1:])
def bare(session: nox.Session) -> None:
    """No extras: import works and every load raises BackendUnavailable with the pip hint."""
    session.install("-q", ".", "pytest", "hypothesis")
    session.run("python", "-c", "import edgeinfer; print(edgeinfer.__version__)")
    session.run("python", "-m", "edgeinfer")
    session.run("python", "-m", "pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("-q", "ruff")
    paths = ["src", "tests", "benchmarks", "tools", "noxfile.py"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install("-q", "-e", ".", "mypy")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The docs: the site built with mkdocs --strict, then every python block run.

    The site goes to site/; any warning (a broken link or anchor, a page left out of the nav, a
    docstring mkdocstrings cannot render) fails the build. tests/test_docs.py then runs the
    README's and docs/'s examples on the example models."""
    session.install("-q", "-e", ".[test]")  # the docs' examples need every runtime installable
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )
    session.run("python", "-m", "pytest", "tests/test_docs.py", *session.posargs)
