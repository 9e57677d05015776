"""The simulated bridge: an in-process MCU, default bridge of the demo and the benchmarks."""

from vcorch.mcu_adapter.simulated.adapter import SimulatedBridge
from vcorch.mcu_adapter.simulated.mcu import SimSettings, SimulatedMcu

__all__ = ["SimSettings", "SimulatedBridge", "SimulatedMcu"]
