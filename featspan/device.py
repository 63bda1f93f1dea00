"""Is there a GPU? Answered without importing torch on machines that have none (torch takes seconds to import)."""

from __future__ import annotations

import os
import sys


# Any of these shows an NVIDIA driver (sandboxes may expose the device nodes without the /proc entry).
_DRIVER_SIGNS = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/nvidia0")


def cuda_available() -> bool:
    if "torch" not in sys.modules and not any(os.path.exists(p) for p in _DRIVER_SIGNS):
        return False  # no NVIDIA driver: torch could not find a GPU either
    import torch
    return torch.cuda.is_available()
