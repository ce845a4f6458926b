"""A local stand-in for the parts of OCI that mdr uses (Data Science, Logging, Object Storage).

Laid out per service as getmoto/moto is: ``core`` holds what they share (HTTP plumbing, signatures, the
persisted store, the work-request engine, faults, the server); ``datascience``, ``logging`` and
``objectstorage`` each hold a backend (state and rules, no HTTP) and its routes (HTTP → backend).
"""

from reconciler.emulator.core.faults import FaultConfig
from reconciler.emulator.emulator import Emulator

__all__ = ["Emulator", "FaultConfig"]
