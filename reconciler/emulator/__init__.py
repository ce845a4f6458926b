"""A local stand-in for the parts of OCI that mdr uses (Data Science, Logging, Object Storage)."""

from reconciler.emulator.server import Emulator
from reconciler.emulator.state import FaultConfig

__all__ = ["Emulator", "FaultConfig"]
