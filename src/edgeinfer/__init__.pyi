# The one list of edgeinfer's public names (Scientific Python SPEC 1, "lazy loading"): type
# checkers and IDEs read it, and edgeinfer/__init__.py reads it at run time to load each name on
# first use. Add a public name here, and only here.
from edgeinfer._errors import BackendUnavailable as BackendUnavailable
from edgeinfer._errors import ConfigurationError as ConfigurationError
from edgeinfer._errors import DeviceError as DeviceError
from edgeinfer._errors import EdgeInferError as EdgeInferError
from edgeinfer._errors import InferenceError as InferenceError
from edgeinfer._errors import InvalidInput as InvalidInput
from edgeinfer._errors import ModelError as ModelError
from edgeinfer._errors import ModelIncompatible as ModelIncompatible
from edgeinfer._errors import NoBackendAvailable as NoBackendAvailable
from edgeinfer._errors import OutOfMemory as OutOfMemory
from edgeinfer._errors import UnknownBackend as UnknownBackend
from edgeinfer._kit.contract import Backend as Backend
from edgeinfer._kit.contract import OpenOptions as OpenOptions
from edgeinfer._kit.placement import Placement as Placement
from edgeinfer._kit.placement import PlacementGroup as PlacementGroup
from edgeinfer._model.chain import CandidateState as CandidateState
from edgeinfer._model.chain import FallbackEvent as FallbackEvent
from edgeinfer._model.chain import FallbackPolicy as FallbackPolicy
from edgeinfer._model.health import ModelHealth as ModelHealth
from edgeinfer._model.load import load as load
from edgeinfer._model.model import Model as Model
from edgeinfer._model.offload import OffloadPolicy as OffloadPolicy
from edgeinfer._model.profile import OperatorProfile as OperatorProfile
from edgeinfer._model.select import Selection as Selection
from edgeinfer._model.select import Trial as Trial
from edgeinfer._model.stats import LatencyStats as LatencyStats
from edgeinfer._planning.detect import devices as devices
from edgeinfer._planning.devices import DeviceRequest as DeviceRequest
from edgeinfer._planning.formats import ModelFormat as ModelFormat
from edgeinfer._planning.formats import register_format as register_format
from edgeinfer._planning.registry import register_backend as register_backend
from edgeinfer._system.snapshot import CpuFrequency as CpuFrequency
from edgeinfer._system.snapshot import GpuHealth as GpuHealth
from edgeinfer._system.snapshot import HealthSnapshot as HealthSnapshot
from edgeinfer._system.snapshot import JetsonHealth as JetsonHealth
from edgeinfer._system.snapshot import PiThrottled as PiThrottled
from edgeinfer._system.snapshot import Temperature as Temperature
from edgeinfer._system.snapshot import ThrottleCount as ThrottleCount
from edgeinfer._system.snapshot import health as health
from edgeinfer._types import Attempt as Attempt
from edgeinfer._types import Availability as Availability
from edgeinfer._types import BackendInfo as BackendInfo
from edgeinfer._types import Device as Device
from edgeinfer._types import OperatorEvent as OperatorEvent
from edgeinfer._types import Quantization as Quantization
from edgeinfer._types import TensorSpec as TensorSpec
from edgeinfer._version import __version__ as __version__
from edgeinfer.compile._api import compile_model as compile_model
from edgeinfer.optimize._api import optimize as optimize
from edgeinfer.optimize._images import ImagePreprocessing as ImagePreprocessing
from edgeinfer.optimize._report import OptimizationReport as OptimizationReport
from edgeinfer.optimize._report import VariantResult as VariantResult

from . import backend as backend
from . import metrics as metrics
from . import testing as testing

__all__: list[str]

def backends() -> tuple[BackendInfo, ...]:
    """Every registered backend: name, available or not and why, install hint, formats, devices."""
