"""Whether the installed libedgetpu was built for the TFLite interpreter that will load it.

libedgetpu is compiled against one TensorFlow Lite's headers; loaded into an interpreter built
from other sources it reads TFLite's structs at the wrong offsets. The reported symptoms:
"Internal: Unsupported data type in custom op handler: <garbage>" at ``allocate_tensors``
(google-coral/edgetpu#214, #259, pycoral#1), or a segfault at the first invoke
(google-coral/edgetpu#812: "The last version of TensorFlow Lite to support EdgeTPU is 2.11.1. Any
later version leads to a segmentation fault" with Coral's own libedgetpu).

What is knowable without loading anything is the Debian package's version, from dpkg's status
file (``/var/lib/dpkg/status``), and libedgetpu's own history names the build it is
(google-coral/libedgetpu: ``debian/changelog`` and ``workspace.bzl``):

- Coral's apt repository: ``16.0`` ("Grouper", July 2021) was built against TensorFlow 2.5.0
  (``TENSORFLOW_COMMIT`` a4dfb8d1, "TF release 2.5.0"); ``15.0`` ("Frogfish", November 2020)
  against TensorFlow commit f394a768 of master, shipped with Coral's own tflite_runtime 2.5.0
  wheels. Reported to work with tflite-runtime up to 2.11.1 and to segfault with every later
  one (google-coral/edgetpu#812, open); every ai-edge-litert is later. ``14.x`` and older are
  older still ("Unsupported data type in custom op handler", google-coral/edgetpu#214).
- The rebuilds merged into google-coral/libedgetpu since 2024 (feranick/libedgetpu, whose
  releases publish ``.deb`` files) carry the TensorFlow in the version: ``16.0tf2.11.1`` ...
  ``16.0tf2.16.1-1``, earlier ``16.0-0ppa1`` = 2.8.4, ``16.0pp2`` = 2.9.3, ``16.0pp3`` = 2.10.1.
  Its README: the TensorFlow checkout "should match" the one of the interpreter it is used with.

So: a build paired with a tflite-runtime of the same TensorFlow minor version is a match; Coral's
own builds with tflite-runtime <= 2.11 are a (reported) match and with anything newer a
mismatch; other pairs with tflite-runtime are a mismatch. ai-edge-litert's version does not name
the TensorFlow it was built from, so with a rebuilt libedgetpu the verdict is "unknown", and the
first invoke in a child process (``first_invoke.py``) is what decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DPKG_STATUS", "Build", "Pairing", "build_of", "check", "installed_package"]

DPKG_STATUS = Path("/var/lib/dpkg/status")
PACKAGES = ("libedgetpu1-std", "libedgetpu1-max")
CORAL_TF = {"16.0": "2.5.0", "15.0": "2.5.0 (master f394a768)"}
CORAL_LAST_WORKING = (2, 11)  # google-coral/edgetpu#812: tflite-runtime 2.11.1 is the last
_PPA = {"16.0pp3": "2.10.1", "16.0pp2": "2.9.3", "16.0-0ppa1": "2.8.4"}
MATCHING_BUILDS = (
    "a libedgetpu built against the same TensorFlow as the interpreter: a release of "
    "https://github.com/feranick/libedgetpu/releases (its version names that TensorFlow, e.g. "
    "16.0tf2.16.1) with the tflite-runtime wheel of the same version from "
    "https://github.com/feranick/TFlite-builds/releases; Coral's own libedgetpu1-std 16.0 works "
    "with tflite-runtime up to 2.11 only"
)


@dataclass(frozen=True, slots=True)
class Build:
    """An installed libedgetpu package and the TensorFlow it was built against (if known)."""

    package: str
    version: str
    tensorflow: str | None
    origin: str  # "Coral", "feranick/libedgetpu", "unknown"

    @property
    def label(self) -> str:
        against = f", built against TensorFlow {self.tensorflow}" if self.tensorflow else ""
        return f"{self.package} {self.version} ({self.origin}{against})"


@dataclass(frozen=True, slots=True)
class Pairing:
    """``verdict``: ``"match"``, ``"mismatch"`` or ``"unknown"``; ``reason`` says why."""

    verdict: str
    reason: str
    build: Build | None = None

    @property
    def hint(self) -> str:
        return f"install {MATCHING_BUILDS}"


def installed_package(status: Path = DPKG_STATUS) -> tuple[str, str] | None:
    """``(package, version)`` of the installed libedgetpu1-std/-max, from dpkg's status file."""
    try:
        text = status.read_text(errors="replace")
    except OSError:
        return None
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line[:1].isspace():
                fields[key.strip()] = value.strip()
        if fields.get("Package") in PACKAGES and fields.get("Status", "").endswith(" installed"):
            return fields["Package"], fields.get("Version", "")
    return None


def build_of(package: str, version: str) -> Build:
    """What a package version says about its build."""
    tagged = re.search(r"tf(\d+\.\d+(?:\.\d+)?)", version, re.IGNORECASE)
    if tagged:
        return Build(package, version, tagged.group(1), "feranick/libedgetpu")
    upstream = version.split("-", 1)[0].split("+", 1)[0]
    if version in _PPA:
        return Build(package, version, _PPA[version], "feranick/libedgetpu")
    if upstream in CORAL_TF:
        return Build(package, version, CORAL_TF[upstream], "Coral")
    major = upstream.split(".", 1)[0]
    if major.isdigit() and int(major) < 15:
        return Build(package, version, None, "Coral, older than TensorFlow 2.5")
    return Build(package, version, None, "unknown")


def _minor(version: str | None) -> tuple[int, int] | None:
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def check(distribution: str, version: str | None, build: Build | None) -> Pairing:
    """The pairing of the interpreter ``distribution`` ``version`` with ``build``."""
    runtime = f"{distribution} {version or '(unknown version)'}"
    if build is None:
        return Pairing(
            "unknown",
            "the libedgetpu build is not known (not installed from a Debian package, or not "
            f"on Linux); whether it fits {runtime} is checked by running the first invoke in a "
            "child process",
        )
    library, runtime_minor = _minor(build.tensorflow), _minor(version)
    if build.origin.startswith("Coral, older"):
        return Pairing(
            "mismatch",
            f"{build.label} was built against a TensorFlow older than {runtime}'s and fails "
            "with later interpreters ('Unsupported data type in custom op handler', "
            "google-coral/edgetpu#214)",
            build,
        )
    if library is None:
        return Pairing(
            "unknown", f"{build.label}: which TensorFlow it was built against is not known", build
        )
    if distribution != "tflite-runtime":
        if build.origin == "Coral":
            return Pairing(
                "mismatch",
                f"{build.label} segfaults with any TensorFlow Lite newer than 2.11 "
                f"(google-coral/edgetpu#812), and {runtime} is newer",
                build,
            )
        return Pairing(
            "unknown",
            f"no pairing of {build.label} with {runtime} is published; the first invoke in a "
            "child process decides",
            build,
        )
    if runtime_minor is None:
        return Pairing("unknown", f"the version of {runtime} is not known", build)
    if build.origin == "Coral":
        if runtime_minor <= CORAL_LAST_WORKING:
            return Pairing(
                "match",
                f"{build.label} is reported to work with tflite-runtime up to 2.11 "
                f"(google-coral/edgetpu#812), which includes {runtime}",
                build,
            )
        return Pairing(
            "mismatch",
            f"{build.label} segfaults with any tflite-runtime newer than 2.11 "
            f"(google-coral/edgetpu#812), and {runtime} is newer",
            build,
        )
    if runtime_minor == library:
        return Pairing("match", f"{build.label} and {runtime} come from the same TensorFlow", build)
    return Pairing(
        "mismatch",
        f"{build.label} was built against another TensorFlow than {runtime}; libedgetpu and the "
        "interpreter must come from the same one",
        build,
    )
