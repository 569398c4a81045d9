"""The embedding device: `auto` falls back to the CPU where no GPU is visible, on every machine.

On this project's machines (and CI) no GPU is visible, so `auto` is the CPU for real; where one is,
the fallback is checked with `cuda_visible` patched to say none is there (the one fault a GPU machine
cannot cause), and the vectors must be those of the CPU either way.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from assistant.settings import Settings
from indexing import devices
from indexing.embedder import Embedder

TEXTS = ["Set this to the size of the listen queue length.", "The default value is 5."]


def test_auto_falls_back_to_the_cpu_and_gives_the_cpu_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    if devices.cuda_visible():
        monkeypatch.setattr(devices, "cuda_visible", lambda: False)
    assert devices.resolve_device("auto") == "cpu"
    auto, cpu = Embedder(device="auto"), Embedder(device="cpu")
    assert auto.device == "cpu"
    assert np.allclose(auto.encode(TEXTS), cpu.encode(TEXTS), atol=1e-6)


def test_cuda_where_none_is_visible_is_refused_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    if devices.cuda_visible():
        monkeypatch.setattr(devices, "cuda_visible", lambda: False)
    with pytest.raises(devices.DeviceUnavailable, match="no CUDA device is visible"):
        devices.resolve_device("cuda")
    with pytest.raises(ValidationError, match="no CUDA device is visible"):
        Settings(embed_device="cuda")  # every command stops at start (exit 2), not at the first embedding
    with pytest.raises(ValidationError):
        Settings(embed_device="gpu")


def test_the_device_check_does_not_import_torch_without_a_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    """No NVIDIA driver node and no nvidia-smi: the answer comes without importing torch (~1.5 s)."""
    monkeypatch.setattr(devices.shutil, "which", lambda name: None)
    monkeypatch.setattr(devices.Path, "exists", lambda self: False)
    assert devices.cuda_visible() is False
