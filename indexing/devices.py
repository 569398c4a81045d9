"""Where the embedding model runs: the CPU, or a CUDA GPU when one is visible.

Takes the device setting (`auto`, `cpu`, `cuda`); gives the device to run on. `auto` uses a CUDA GPU when
one is visible and the CPU otherwise, so the same setting works on a laptop and on a GPU server. The
check costs nothing on a machine without an NVIDIA driver (no torch import, ~1.5 s); `cuda` on a machine
without one stops with a reason rather than falling back silently.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DEVICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(RuntimeError):
    """The device asked for is not on this machine."""


def cuda_visible() -> bool:
    """A CUDA device that PyTorch can use. No driver node and no nvidia-smi: no GPU, torch not imported."""
    if not (Path("/dev/nvidia0").exists() or shutil.which("nvidia-smi")):
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str = "auto") -> str:
    """`cpu` or `cuda`, for the setting `requested`."""
    if requested not in DEVICES:
        raise ValueError(f"the embedding device must be one of {', '.join(DEVICES)}, not {requested!r}")
    if requested == "cpu":
        return "cpu"
    if cuda_visible():
        return "cuda"
    if requested == "cuda":
        raise DeviceUnavailable("MCDEWEY_EMBED_DEVICE=cuda, but no CUDA device is visible to PyTorch "
                                "(no NVIDIA driver, or a CPU-only torch); use auto or cpu")
    return "cpu"
