"""``from reconciler.emulator.state import FaultConfig`` keeps working for callers outside the emulator.

The state itself now lives in ``core/store.py``; new code imports ``FaultConfig`` from ``reconciler.emulator``.
"""

from reconciler.emulator.core.faults import FaultConfig

__all__ = ["FaultConfig"]
