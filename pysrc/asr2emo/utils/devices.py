"""Device and thread arguments checked once, before any work: one clear line instead of a CUDA
error deep in a stack trace.

A GPU can only run kernels compiled for its architecture (``sm_XY``) or JIT-compiled from PTX
of an older virtual architecture (``compute_XY``, XY <= the GPU's). The pinned torch 1.13.1+cu117
ships sm_37..sm_86 without PTX, k2 1.23.4 sm_35..sm_86 plus PTX compute_86, so a Hopper
(sm_90) or newer GPU fails at its first torch kernel. :func:`check_device` compares the GPU's
compute capability with what the installed torch and k2 were built for and says what to
install instead. torch is imported inside the functions, so that :func:`add_device_args` and
:func:`check_threads` serve the torch-free deploy path of ``asr2emo predict`` too.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, List, Optional, Tuple

from asr2emo.utils.errors import UserError

if TYPE_CHECKING:
    import torch

DEVICE = re.compile(r"^(cpu|cuda(:\d+)?)$")


def torch_arch_list() -> List[str]:
    """Architectures of the installed torch's CUDA kernels, e.g. ``['sm_80', 'sm_86']``."""
    import torch

    get = getattr(torch._C, "_cuda_getArchFlags", None)
    flags = get() if get is not None else ""
    return [a for a in (flags or "").split() if a]


def k2_arch_list() -> Optional[List[str]]:
    """Architectures k2 was compiled for (``sm_XY`` and PTX ``compute_XY``); None without k2
    or without CUDA in it."""
    try:
        import _k2
    except ImportError:
        return None
    flags = getattr(getattr(_k2, "version", None), "cmake_cuda_flags", "") or ""
    if not getattr(getattr(_k2, "version", None), "with_cuda", True) or not flags:
        return None
    found = []
    for code in re.findall(r"arch=compute_\d+,code=((?:sm|compute)_\d+)", flags):
        if code not in found:
            found.append(code)
    return found


def runs_on(capability: Tuple[int, int], archs: List[str]) -> bool:
    """Whether code built for ``archs`` runs on a GPU of ``capability`` (major, minor): a cubin
    of the same major version and a minor <= the GPU's, or PTX of a version <= the GPU's."""
    major, minor = capability
    for a in archs:
        kind, num = a.split("_")
        v_major, v_minor = int(num[:-1]), int(num[-1])
        if kind == "sm" and v_major == major and v_minor <= minor:
            return True
        if kind == "compute" and (v_major, v_minor) <= (major, minor):
            return True
    return False


def unsupported_gpu_reason(index: int) -> Optional[str]:
    """None when torch and k2 have kernels for GPU ``index``, else the one-line explanation."""
    import torch

    cap = torch.cuda.get_device_capability(index)
    name = torch.cuda.get_device_name(index)
    problems = []
    archs = torch_arch_list()
    if archs and not runs_on(cap, archs):
        problems.append(f"torch {torch.__version__} has kernels for {' '.join(archs)} only")
    k2_archs = k2_arch_list()
    if k2_archs and not runs_on(cap, k2_archs):
        problems.append(f"k2 has kernels for {' '.join(k2_archs)} only")
    if not problems:
        return None
    return (
        f"GPU {index} ({name}, compute capability {cap[0]}.{cap[1]}, sm_{cap[0]}{cap[1]}): "
        f"{'; '.join(problems)}. Install a torch and k2 pair built for sm_{cap[0]}{cap[1]} "
        "(a CUDA 12 build of torch 2.x and the k2 wheel built against it, see README 'GPUs'), "
        "or run with --device cpu"
    )


def check_device(device: str) -> torch.device:
    """``device`` as a torch.device, or a :class:`UserError` saying why it cannot be used."""
    import torch

    if not isinstance(device, str) or not DEVICE.match(device):
        raise UserError(f"--device must be cpu, cuda or cuda:N, got '{device}'")
    if device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available here (no GPU or no driver)")
    dev = torch.device(device)
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    count = torch.cuda.device_count()
    if index >= count:
        raise UserError(f"--device {device}: only {count} GPU(s) here (cuda:0..cuda:{count - 1})")
    reason = unsupported_gpu_reason(index)
    if reason is not None:
        raise UserError(reason)
    return torch.device("cuda", index)


def check_threads(num_threads: int) -> int:
    """A thread count of at least 1, or a :class:`UserError`."""
    if not isinstance(num_threads, int) or num_threads < 1:
        raise UserError(f"--num-threads must be at least 1, got {num_threads}")
    return num_threads


def add_device_args(parser, threads: int = 1, device: bool = True) -> None:
    """``--device`` (when the verb can use a GPU) and ``--num-threads``, the same in every verb."""
    if device:
        parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--num-threads", type=int, default=threads, help="torch intra-op threads on the CPU"
    )


def setup_device(args) -> torch.device:
    """Check ``args.device`` / ``args.num_threads`` (see :func:`add_device_args`), set torch's
    thread count, and return the device."""
    import torch

    torch.set_num_threads(check_threads(args.num_threads))
    return check_device(getattr(args, "device", "cpu"))
