"""Device handling checked on CPU: GPU architecture support (mocked GPUs), device and thread
arguments, collective tensors on the model's device, one GPU's generator state per process."""

from __future__ import annotations

import pytest
import torch

from asr2emo.model import checkpoint, trainer
from asr2emo.utils import devices
from asr2emo.utils.devices import check_device, check_threads, runs_on
from asr2emo.utils.errors import UserError

TORCH_1_13 = "sm_37 sm_50 sm_60 sm_70 sm_75 sm_80 sm_86".split()
K2_1_23 = "sm_35 sm_50 sm_52 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 compute_86".split()


def fake_gpus(monkeypatch, capability, name="NVIDIA H200", count=1, torch_archs=TORCH_1_13):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda i=0: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: name)
    monkeypatch.setattr(devices, "torch_arch_list", lambda: list(torch_archs))
    monkeypatch.setattr(devices, "k2_arch_list", lambda: list(K2_1_23))


def test_compatibility_rules():
    assert runs_on((8, 6), TORCH_1_13) and runs_on((8, 9), TORCH_1_13)  # sm_86 cubin on sm_89
    assert not runs_on((9, 0), TORCH_1_13)  # no sm_90 cubin, no PTX
    assert runs_on((9, 0), K2_1_23)  # PTX compute_86 JIT-compiles for sm_90
    assert not runs_on((7, 0), ["sm_75"]) and runs_on((7, 5), ["compute_70"])


def test_hopper_gpu_is_refused_with_what_to_install(monkeypatch):
    fake_gpus(monkeypatch, (9, 0))
    with pytest.raises(UserError) as e:
        check_device("cuda")
    msg = str(e.value)
    assert "\n" not in msg
    for part in (
        "NVIDIA H200",
        "compute capability 9.0",
        "sm_86",
        "built for sm_90",
        "--device cpu",
    ):
        assert part in msg, msg
    assert "k2 has kernels" not in msg  # k2's PTX covers it; only torch lacks the kernels


def test_supported_gpu_and_bad_device_strings(monkeypatch):
    fake_gpus(monkeypatch, (8, 0), name="NVIDIA A100", count=2)
    assert check_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(UserError, match="only 2 GPU"):
        check_device("cuda:2")
    with pytest.raises(UserError, match="must be cpu, cuda or cuda:N, got 'tpu'"):
        check_device("tpu")


def test_no_gpu_and_thread_counts(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match="CUDA is not available"):
        check_device("cuda")
    assert check_device("cpu") == torch.device("cpu")
    with pytest.raises(UserError, match="--num-threads must be at least 1, got 0"):
        check_threads(0)


def test_validation_loss_is_reduced_on_the_models_device(monkeypatch):
    """NCCL accepts CUDA tensors only: the reduced tensor must be on the model's device. Checked
    with the 'meta' device standing for a GPU (the old code reduced a CPU tensor)."""
    seen = []

    class Stop(Exception):
        pass

    def fake_all_reduce(t):
        seen.append(t.device)
        raise Stop

    monkeypatch.setattr(trainer.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(trainer.dist, "all_reduce", fake_all_reduce)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(Stop):
        trainer.compute_validation_loss(model, None, [], torch.device("meta"))
    assert seen == [torch.device("meta")]


def test_checkpoint_rng_asks_only_for_the_process_gpu(monkeypatch):
    def every_gpu():
        raise AssertionError("get_rng_state_all opens a CUDA context on every visible GPU")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", every_gpu)
    monkeypatch.setattr(torch.cuda, "get_rng_state", lambda d: torch.tensor([int(d.index)]))
    assert checkpoint.rng_state("cpu")["cuda"] is None
    assert checkpoint.rng_state(torch.device("cuda", 3))["cuda"].tolist() == [3]
