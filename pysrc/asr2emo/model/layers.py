"""Building blocks of the TDNN-F (Kaldi ``tdnnf-layer``, ``relu-batchnorm-dropout-layer``).

Every layer works on ``(N, C, T)`` tensors with *valid* (unpadded) time convolutions, as Kaldi's
nnet3 does: the caller supplies the left/right context frames, so chunked and whole-utterance
computation give the same numbers.

The semi-orthogonal constraint (Povey et al., Interspeech 2018, "Semi-orthogonal low-rank matrix
factorization for deep neural networks"; Kaldi ``ConstrainOrthonormalInternal`` in
``src/nnet3/nnet-utils.cc``, floating-scale case) is applied outside back-propagation, every few
optimizer steps, by :func:`constrain_orthonormal_`. With ``M`` the factor's weight viewed as a
``(rows, cols)`` matrix (``rows <= cols``), ``P = M M^T``:

    scale^2 = tr(P P^T) / tr(P)             (the scale that keeps the update orthogonal to M)
    ratio   = tr(P P^T) * rows / tr(P)^2    (>= 1; 1 when M is already a scaled semi-orthogonal)
    speed   = 0.125, halved if ratio > 1.02, halved again if ratio > 1.1
    M      <- M - (4 * speed / scale^2) * (P - scale^2 I) M

which is one gradient step on ``-||P - scale^2 I||_F^2`` and drives ``M M^T`` toward
``scale^2 I``.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F


def constrain_orthonormal_(weight: torch.Tensor) -> None:
    """One Kaldi ConstrainOrthonormal step on ``weight`` in place (floating scale).

    ``weight`` is ``(rows, ...)``; it is viewed as ``(rows, prod(rest))``. When that matrix has
    more rows than columns the constraint is applied to its transpose.
    """
    with torch.no_grad():
        rows = weight.shape[0]
        M = weight.reshape(rows, -1).double()
        transposed = M.shape[0] > M.shape[1]
        if transposed:
            M = M.t()
        P = M @ M.t()
        trace_p = torch.trace(P)
        trace_pp = torch.sum(P * P)
        if trace_p <= 0:
            return
        scale2 = trace_pp / trace_p
        ratio = trace_pp * P.shape[0] / (trace_p * trace_p)
        speed = 0.125
        if ratio > 1.02:
            speed *= 0.5
            if ratio > 1.1:
                speed *= 0.5
        P.diagonal().sub_(scale2)
        M = M - (4.0 * speed / scale2) * (P @ M)
        if transposed:
            M = M.t()
        weight.copy_(M.reshape(weight.shape).to(weight.dtype))


def semi_orthogonality_error(weight: torch.Tensor) -> float:
    """Relative distance of ``M M^T`` from its best scaled identity: ``||P - s I|| / ||P||``."""
    with torch.no_grad():
        M = weight.reshape(weight.shape[0], -1).double()
        if M.shape[0] > M.shape[1]:
            M = M.t()
        P = M @ M.t()
        s = torch.trace(P) / P.shape[0]
        eye = torch.eye(P.shape[0], dtype=P.dtype)
        return float(torch.linalg.norm(P - s * eye) / torch.linalg.norm(P))


def parse_schedule(spec: str) -> List[Tuple[float, float]]:
    """Kaldi dropout schedule ``"0,0@0.20,0.5@0.50,0"`` -> [(progress, value), ...].

    Values without ``@`` at the ends sit at progress 0 and 1; ``v@p`` pins value v at progress p;
    between the points the value is linearly interpolated (Kaldi ``_parse_dropout_string``).
    """
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ValueError("empty dropout schedule")
    points: List[Tuple[float, float]] = []
    for i, part in enumerate(parts):
        if "@" in part:
            value, prog = part.split("@", 1)
            points.append((float(prog), float(value)))
        elif i == 0:
            points.append((0.0, float(part)))
        elif i == len(parts) - 1:
            points.append((1.0, float(part)))
        else:
            raise ValueError(f"dropout schedule '{spec}': inner value '{part}' needs '@progress'")
    if len(parts) == 1:
        points.append((1.0, points[0][1]))
    progs = [p for p, _ in points]
    if progs != sorted(progs) or progs[0] != 0.0 or progs[-1] != 1.0:
        raise ValueError(f"dropout schedule '{spec}': progress must rise from 0 to 1")
    return points


def schedule_value(points: List[Tuple[float, float]], progress: float) -> float:
    """Piecewise-linear value of a parsed schedule at ``progress`` in [0, 1]."""
    progress = min(max(progress, 0.0), 1.0)
    for (p0, v0), (p1, v1) in zip(points, points[1:]):
        if progress <= p1:
            return v0 if p1 == p0 else v0 + (v1 - v0) * (progress - p0) / (p1 - p0)
    return points[-1][1]


class ContinuousDropout(nn.Module):
    """Kaldi ``dropout-per-dim-continuous``: each (sequence, dim) is scaled by U[1-2p, 1+2p].

    The scale is shared over time (whole rows of a sequence), its mean is 1 so no rescaling is
    needed at test time. ``p`` is set from the schedule by the trainer (:func:`set_dropout`).
    """

    def __init__(self) -> None:
        super().__init__()
        self.p = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        p = min(self.p, 0.5)
        scale = 1.0 + 2.0 * p * (2.0 * torch.rand(x.shape[0], x.shape[1], 1, device=x.device) - 1)
        return x * scale


def valid_frames(
    lens: torch.Tensor, num_frames: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``(N, 1, T)`` weights: 1 on frames ``0 .. lens[i]-1`` of sequence i, 0 on its padding."""
    t = torch.arange(num_frames, device=device)
    return (t.unsqueeze(0) < lens.to(device).unsqueeze(1)).to(dtype).unsqueeze(1)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` whose training statistics cover the valid frames of each sequence only.

    ``forward(x, lens)``: ``x (N, C, T)``; ``lens (N,)`` the valid frames of each sequence at
    this layer's time resolution (frames ``lens[i]..T-1`` pad a shorter sequence to the batch).
    In training, the mean and variance that normalize the batch, and the running statistics,
    are over the valid frames alone (padding is normalized with them and ignored downstream),
    as Kaldi's BatchNormComponent sees only the frames a chunk computes
    (``src/nnet3/nnet-normalize-component.cc``, ``Propagate``/``StoreStats``). In eval mode,
    without ``lens`` or when nothing is padding it is the very ``F.batch_norm`` call of torch's
    ``BatchNorm1d``, so saved models, extraction and export are unchanged.
    """

    def forward(self, x: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        factor = 0.0 if self.momentum is None else float(self.momentum)
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average, as torch does
                factor = 1.0 / float(self.num_batches_tracked)
        track = not self.training or self.track_running_stats
        if not self.training or lens is None or bool((lens >= x.shape[2]).all()):
            return F.batch_norm(
                x,
                self.running_mean if track else None,
                self.running_var if track else None,
                self.weight,
                self.bias,
                self.training or (self.running_mean is None and self.running_var is None),
                factor,
                self.eps,
            )
        m = valid_frames(lens, x.shape[2], x.dtype, x.device)
        count = m.sum()
        mean = (x * m).sum(dim=(0, 2)) / count
        centered = x - mean.view(1, -1, 1)
        var = (centered * centered * m).sum(dim=(0, 2)) / count  # biased, as for normalization
        y = centered * torch.rsqrt(var + self.eps).view(1, -1, 1)
        if self.weight is not None and self.bias is not None:
            y = y * self.weight.view(1, -1, 1) + self.bias.view(1, -1, 1)
        if (
            self.track_running_stats
            and self.running_mean is not None
            and self.running_var is not None
        ):
            n = float(count)
            unbiased = var.detach() * (n / max(n - 1.0, 1.0))  # torch keeps the unbiased one
            self.running_mean.mul_(1.0 - factor).add_(mean.detach(), alpha=factor)
            self.running_var.mul_(1.0 - factor).add_(unbiased, alpha=factor)
        return y


def output_lens(
    lens: Optional[torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> Optional[torch.Tensor]:
    """Valid frames of a valid convolution's output ``y`` given those of its input ``x``: every
    sequence loses the frames the batch does (the context consumed)."""
    return None if lens is None else lens - (x.shape[2] - y.shape[2])


def _conv(in_dim: int, out_dim: int, stride: int, bias: bool) -> nn.Conv1d:
    """A time convolution over offsets (0, stride) -- or a 1x1 one when stride is 0."""
    if stride == 0:
        return nn.Conv1d(in_dim, out_dim, kernel_size=1, bias=bias)
    return nn.Conv1d(in_dim, out_dim, kernel_size=2, dilation=stride, bias=bias)


class TdnnLayer(nn.Module):
    """``relu-batchnorm-dropout-layer``: affine (no time context) + relu + batchnorm + dropout."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.affine = nn.Conv1d(in_dim, out_dim, kernel_size=1)
        self.batchnorm = MaskedBatchNorm1d(out_dim, affine=False)
        self.dropout = ContinuousDropout()

    def forward(self, x: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``lens``: valid frames of each sequence of ``x`` (None: all), for the batchnorm."""
        return self.dropout(self.batchnorm(F.relu(self.affine(x)), lens))


class TdnnfLayer(nn.Module):
    """Kaldi ``tdnnf-layer``: factorized TDNN with a semi-orthogonal factor and a bypass.

    linear (semi-orthogonal, dim -> bottleneck, offsets -stride,0) -> affine (bottleneck -> dim,
    offsets 0,+stride) -> relu -> batchnorm -> dropout, plus ``bypass_scale * input`` (cropped
    to the output frames). Context: ``stride`` frames left and right (0 when stride is 0).
    ``stride`` here is in frames of the rate this layer runs at.
    """

    def __init__(self, dim: int, bottleneck_dim: int, stride: int, bypass_scale: float) -> None:
        super().__init__()
        self.stride = stride
        self.bypass_scale = bypass_scale
        self.linear = _conv(dim, bottleneck_dim, stride, bias=False)
        self.affine = _conv(bottleneck_dim, dim, stride, bias=True)
        self.batchnorm = MaskedBatchNorm1d(dim, affine=False)
        self.dropout = ContinuousDropout()

    @property
    def context(self) -> int:
        return self.stride

    def forward(self, x: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``lens``: valid frames of each sequence of ``x`` (None: all), for the batchnorm."""
        y = F.relu(self.affine(self.linear(x)))
        y = self.dropout(self.batchnorm(y, output_lens(lens, x, y)))
        c = self.stride
        bypass = x[:, :, c : x.shape[2] - c] if c > 0 else x
        return y + self.bypass_scale * bypass

    def constrain_orthonormal(self) -> None:
        constrain_orthonormal_(self.linear.weight)


class PrefinalLayer(nn.Module):
    """Kaldi tdnn_1g ``prefinal-l`` + ``prefinal-chain``: the ``dim -> small_dim`` bottleneck.

    prefinal-l: semi-orthogonal linear dim -> small; prefinal-chain: affine small -> dim, relu,
    batchnorm, linear dim -> small (semi-orthogonal), batchnorm. Output ``small_dim`` (256).
    """

    def __init__(self, dim: int, small_dim: int) -> None:
        super().__init__()
        self.linear_in = nn.Conv1d(dim, small_dim, kernel_size=1, bias=False)
        self.affine = nn.Conv1d(small_dim, dim, kernel_size=1)
        self.batchnorm1 = MaskedBatchNorm1d(dim, affine=False)
        self.linear_out = nn.Conv1d(dim, small_dim, kernel_size=1, bias=False)
        self.batchnorm2 = MaskedBatchNorm1d(small_dim, affine=False)

    def forward(self, x: torch.Tensor, lens: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``lens``: valid frames of each sequence of ``x`` (None: all), for the batchnorms."""
        x = self.batchnorm1(F.relu(self.affine(self.linear_in(x))), lens)
        return self.batchnorm2(self.linear_out(x), lens)

    def constrain_orthonormal(self) -> None:
        constrain_orthonormal_(self.linear_in.weight)
        constrain_orthonormal_(self.linear_out.weight)
