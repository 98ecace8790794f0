"""A stand-in for libedgetpu, compiled at test time: the library layer under the Edge TPU backend.

It exports what LiteRT's ``load_delegate`` calls in a delegate library,
``tflite_plugin_create_delegate`` and ``tflite_plugin_destroy_delegate`` (the two functions of
libedgetpu's ``tflite/edgetpu_delegate_for_custom_op_tflite_plugin.cc``), and returns a
``TfLiteDelegate`` whose ``Prepare`` claims no node, so every op stays on the CPU. The
environment variable ``FAKE_EDGETPU_MODE``, read when a delegate is created, plays the failures
of real machines:

- ``ok`` (default): a working delegate.
- ``absent``: no device (``tflite_plugin_create_delegate`` returns NULL: "Failed to load
  delegate").
- ``crash``: ``Prepare`` dies with SIGSEGV, as a libedgetpu built for another TensorFlow Lite
  does (google-coral/edgetpu#812).

``fake_created()`` / ``fake_destroyed()`` count delegates (read them through ``ctypes.CDLL`` of the
same path: one library, one counter). Needs a C compiler; ``build`` returns ``None`` without one.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["SOURCE", "build"]

# The layout of TfLiteDelegate in tensorflow/lite/core/c/common.h (data_, Prepare, three buffer
# handle callbacks, flags, opaque_delegate_builder).
SOURCE = r"""
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct FakeDelegate {
  void* data_;
  int (*Prepare)(void* context, struct FakeDelegate* delegate);
  void* CopyFromBufferHandle;
  void* CopyToBufferHandle;
  void* FreeBufferHandle;
  int64_t flags;
  void* opaque_delegate_builder;
} FakeDelegate;

static int created = 0;
static int destroyed = 0;

static int prepare_nothing(void* context, FakeDelegate* delegate) { return 0; }
static int prepare_crash(void* context, FakeDelegate* delegate) {
  raise(SIGSEGV);
  return 1;
}
static const char* mode(void) {
  const char* found = getenv("FAKE_EDGETPU_MODE");
  return found ? found : "ok";
}

FakeDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t count,
                                            void (*report)(const char*)) {
  if (strcmp(mode(), "absent") == 0) {
    if (report) report("Failed to open device");
    return NULL;
  }
  FakeDelegate* delegate = calloc(1, sizeof(FakeDelegate));
  delegate->Prepare = strcmp(mode(), "crash") == 0 ? prepare_crash : prepare_nothing;
  created++;
  return delegate;
}

void tflite_plugin_destroy_delegate(FakeDelegate* delegate) {
  destroyed++;
  free(delegate);
}

int fake_created(void) { return created; }
int fake_destroyed(void) { return destroyed; }
"""


def build(folder: Path, name: str = "libedgetpu.so.1") -> Path | None:
    """Compile the stand-in as ``folder/name``; ``None`` when no C compiler is installed."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "fake_libedgetpu.c"
    source.write_text(SOURCE)
    target = folder / name
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return target
