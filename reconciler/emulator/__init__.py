"""A local stand-in for the parts of OCI that mdr uses (Data Science, Logging, Object Storage, Resource Search).

Laid out per service as getmoto/moto is: ``core`` holds what they share (HTTP on h11, signatures and
replays, the persisted store and its blobs, the work-request engine, faults, the server); ``datascience``,
``logging``, ``objectstorage`` and ``search`` each hold a backend (state and rules, no HTTP) and its routes
(HTTP → backend).
"""

from reconciler.emulator.core.faults import FaultConfig
from reconciler.emulator.emulator import Emulator

__all__ = ["Emulator", "FaultConfig"]
