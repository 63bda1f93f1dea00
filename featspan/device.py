"""Is there a GPU? Answered without importing torch on machines that have none (torch takes seconds to import)."""

from __future__ import annotations

import os
import sys


def cuda_available() -> bool:
    if "torch" not in sys.modules and not os.path.exists("/proc/driver/nvidia/version"):
        return False  # no NVIDIA driver: torch could not find a GPU either
    import torch
    return torch.cuda.is_available()
