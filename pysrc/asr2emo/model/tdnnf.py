"""The TDNN-F acoustic model of Kaldi tedlium/s5_r2 tdnn_1g (local/chain/tuning/run_tdnn_1g.sh).

input: Append(t-1, t, t+1) of CMVN-normalized 40-dim MFCC + the 100-dim online i-vector of the
frame -> ``lda`` (affine, identity-initialized, learned) -> ``tdnn1`` (affine + relu + batchnorm)
-> ``tdnnf2`` .. ``tdnnf13`` (factorized TDNN, bypass 0.66, strides 1,1,1,0,3,...) ->
``prefinal`` (1024 -> 256) -> ``output`` (256 -> num_outputs, log-softmax).

Frame subsampling (3) is done exactly as in Kaldi: the layers whose strides are multiples of the
factor only ever need frames at multiples of it, so the sequence is subsampled right before the
first of them and they run at the low rate (tdnnf5's stride 0 is a 1x1 layer; tdnnf6..13 run with
stride 1 at 30 ms). All convolutions are valid: :meth:`TdnnfModel.forward` pads each sequence with
copies of its first/last frame (``left_context``/``right_context`` frames), Kaldi's edge rule.
Decoding and extraction keep the frames at multiples of the factor; training can shift that
phase per minibatch (:meth:`TdnnfModel.set_frame_shift`; Kaldi's ``nnet3-chain-copy-egs
--frame-shift``, cycled by ``steps/nnet3/chain/train.py``), so the network learns to emit at
every phase of the input frames, not one.

CMVN is a pair of buffers inside the model, so callers pass raw MFCC and a saved model is
self-contained. Every layer is addressable by name (:attr:`TdnnfModel.layer_names`) for the
bottleneck extraction of stage 7. With ``xent_branch`` the model also has tdnn_1g's
cross-entropy regularizer branch (:mod:`asr2emo.model.xent`), kept apart from the named layers.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from asr2emo.model.layers import (
    ContinuousDropout,
    PrefinalLayer,
    TdnnfLayer,
    TdnnLayer,
    parse_schedule,
    schedule_value,
)
from asr2emo.model.network import LayerCut, splice_frames
from asr2emo.model.xent import OUTPUT as XENT_OUTPUT
from asr2emo.model.xent import PREFINAL as XENT_PREFINAL
from asr2emo.model.xent import build_xent_branch
from asr2emo.utils.config import ConfArgumentParser, int_list
from asr2emo.utils.errors import UserError


@dataclass
class TdnnfConfig:
    """Topology hyper-parameters (``conf/tdnnf.conf``); defaults are the paper's tdnn_1g."""

    feat_dim: int = 40
    ivector_dim: int = 100
    ivector_period: int = 10  # feature frames per i-vector (0.1 s / 10 ms)
    splice: List[int] = field(default_factory=lambda: [-1, 0, 1])
    num_layers: int = 13
    hidden_dim: int = 1024
    bottleneck_dim: int = 128
    prefinal_dim: int = 256
    bypass_scale: float = 0.66
    time_strides: List[int] = field(default_factory=lambda: [1, 1, 1, 0] + [3] * 8)
    frame_subsampling_factor: int = 3
    dropout_schedule: str = "0,0@0.20,0.5@0.50,0"

    def __post_init__(self) -> None:
        if len(self.time_strides) != self.num_layers - 1:
            raise UserError(
                f"tdnnf config: --time-strides has {len(self.time_strides)} values, "
                f"--num-layers={self.num_layers} needs {self.num_layers - 1} (tdnnf2..)"
            )
        if sorted(self.splice) != self.splice or 0 not in self.splice:
            raise UserError(
                f"tdnnf config: --splice must be increasing and hold 0, got {self.splice}"
            )
        try:
            parse_schedule(self.dropout_schedule)
        except ValueError as e:
            raise UserError(f"tdnnf config: {e}")

    @property
    def subsample_index(self) -> int:
        """Index in ``time_strides`` of the first layer run at the low frame rate."""
        f = self.frame_subsampling_factor
        i = len(self.time_strides)
        while i > 0 and self.time_strides[i - 1] % f == 0:
            i -= 1
        return i

    def runs_low_rate(self, index: int) -> bool:
        """Whether the layer at ``index`` of the layer names (0 = tdnn1, 1 = tdnnf2, ...) runs
        on frames already subsampled; the subsampling happens right before the first such."""
        return index - 1 >= self.subsample_index

    @property
    def left_context(self) -> int:
        return -self.splice[0] + sum(self.time_strides)

    @property
    def right_context(self) -> int:
        return self.splice[-1] + sum(self.time_strides)


def add_model_args(parser: argparse.ArgumentParser) -> None:
    """The keys of ``conf/tdnnf.conf``."""
    d = TdnnfConfig()
    parser.add_argument("--feat-dim", type=int, default=d.feat_dim)
    parser.add_argument("--ivector-dim", type=int, default=d.ivector_dim)
    parser.add_argument(
        "--ivector-period",
        type=int,
        default=d.ivector_period,
        help="feature frames per i-vector (0.1 s i-vectors on 10 ms frames: 10)",
    )
    parser.add_argument(
        "--splice",
        type=int_list,
        default=d.splice,
        help="input frame offsets appended before the lda affine",
    )
    parser.add_argument(
        "--num-layers", type=int, default=d.num_layers, help="tdnn1 + tdnnf2..tdnnfN"
    )
    parser.add_argument("--hidden-dim", type=int, default=d.hidden_dim)
    parser.add_argument("--bottleneck-dim", type=int, default=d.bottleneck_dim)
    parser.add_argument("--prefinal-dim", type=int, default=d.prefinal_dim)
    parser.add_argument("--bypass-scale", type=float, default=d.bypass_scale)
    parser.add_argument(
        "--time-strides",
        type=int_list,
        default=d.time_strides,
        help="strides of tdnnf2..tdnnfN in 10 ms frames (0 = no context)",
    )
    parser.add_argument("--frame-subsampling-factor", type=int, default=d.frame_subsampling_factor)
    parser.add_argument(
        "--dropout-schedule",
        default=d.dropout_schedule,
        help="Kaldi schedule value[@progress],...; piecewise linear",
    )


def read_model_config(path: Optional[str]) -> TdnnfConfig:
    """Read ``conf/tdnnf.conf`` (unknown keys are an error naming the valid ones)."""
    parser = ConfArgumentParser(prog="tdnnf config", add_help=False)
    add_model_args(parser)
    args = parser.parse_args(["--config", path] if path else [])
    return config_from_args(args)


def config_from_args(args: argparse.Namespace) -> TdnnfConfig:
    keys = TdnnfConfig.__dataclass_fields__.keys()
    return TdnnfConfig(**{k: getattr(args, k) for k in keys if hasattr(args, k)})


class TdnnfModel(nn.Module):
    """TDNN-F with named layers; see the module docstring. ``xent_branch``: also build
    ``prefinal-xent`` and ``output-xent`` (in :attr:`xent`, outside :attr:`layers`)."""

    def __init__(self, config: TdnnfConfig, num_outputs: int, xent_branch: bool = False) -> None:
        super().__init__()
        self.config = config
        self.num_outputs = num_outputs
        self.frame_shift = 0  # subsampling phase of training forwards (set_frame_shift)
        c = config
        in_dim = len(c.splice) * c.feat_dim + c.ivector_dim
        self.register_buffer("cmvn_mean", torch.zeros(c.feat_dim))
        self.register_buffer("cmvn_std", torch.ones(c.feat_dim))
        self.lda = nn.Conv1d(in_dim, in_dim, kernel_size=1)
        with torch.no_grad():
            self.lda.weight.copy_(torch.eye(in_dim).unsqueeze(-1))
            self.lda.bias.zero_()
        self.layers = nn.ModuleDict()
        self.layers["tdnn1"] = TdnnLayer(in_dim, c.hidden_dim)
        f = c.frame_subsampling_factor
        for i, stride in enumerate(c.time_strides):
            low_rate = c.runs_low_rate(i + 1)
            self.layers[f"tdnnf{i + 2}"] = TdnnfLayer(
                c.hidden_dim, c.bottleneck_dim, stride // f if low_rate else stride, c.bypass_scale
            )
        self.layers["prefinal"] = PrefinalLayer(c.hidden_dim, c.prefinal_dim)
        self.layers["output"] = nn.Conv1d(c.prefinal_dim, num_outputs, kernel_size=1)
        # Not in self.layers: layer names, extraction and sweeps never see the branch, and a
        # model built without it has the state dict of the models before it existed.
        self.xent: Optional[nn.ModuleDict] = None
        if xent_branch:
            self.xent = build_xent_branch(c.hidden_dim, c.prefinal_dim, num_outputs)
        self._dropout_points = parse_schedule(c.dropout_schedule)
        # Layer passes by wanted layers; a plain dict, so they are no submodules of their own.
        self._cuts: Dict[Tuple[str, ...], LayerCut] = {}

    # ----------------------------------------------------------------- naming and sizes
    @property
    def layer_names(self) -> List[str]:
        return list(self.layers.keys())

    @property
    def left_context(self) -> int:
        return self.config.left_context

    @property
    def right_context(self) -> int:
        return self.config.right_context

    def layer_dim(self, layer: str) -> int:
        if layer == "output":
            return self.num_outputs
        if layer == "prefinal":
            return self.config.prefinal_dim
        return self.config.hidden_dim

    def num_params(self, trainable_only: bool = True) -> int:
        """Parameters of the whole model, the xent branch included when it is built."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    @property
    def has_xent(self) -> bool:
        return self.xent is not None

    def num_xent_params(self) -> int:
        """Parameters of the xent branch alone (0 without it): training-only weights."""
        return sum(p.numel() for p in self.xent.parameters()) if self.xent is not None else 0

    def check_layer(self, layer: str) -> None:
        if layer not in self.layers:
            raise UserError(f"unknown layer '{layer}'; valid layers: {', '.join(self.layer_names)}")

    def set_cmvn(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.cmvn_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.cmvn_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp(min=1e-5))

    # ----------------------------------------------------------------- training helpers
    def set_dropout(self, progress: float) -> float:
        """Set every dropout to the schedule's value at training ``progress`` in [0, 1]."""
        p = schedule_value(self._dropout_points, progress)
        for m in self.modules():
            if isinstance(m, ContinuousDropout):
                m.p = p
        return p

    def set_frame_shift(self, shift: int) -> None:
        """The subsampling phase of the forwards that follow in training mode (eval mode always
        uses 0): output frames at input frames ``shift, shift + f, ...``, ``0 <= shift < f``."""
        f = self.config.frame_subsampling_factor
        if not 0 <= shift < f:
            raise ValueError(f"frame shift {shift} outside [0, {f})")
        self.frame_shift = int(shift)

    def constrain_orthonormal(self) -> None:
        """One semi-orthogonal update of every factorized weight (Kaldi ConstrainOrthonormal)."""
        for m in self.modules():
            if isinstance(m, (TdnnfLayer, PrefinalLayer)):
                m.constrain_orthonormal()
        if self.xent is not None:
            self.xent[XENT_PREFINAL].constrain_orthonormal()

    # ----------------------------------------------------------------- computation
    def num_output_frames(self, num_frames: torch.Tensor | int, frame_shift: int = 0):
        """Output frames of sequences of ``num_frames`` input frames: those at input frames
        ``frame_shift + f * j`` inside the sequence, ``ceil((T - frame_shift) / f)`` (at least
        one when shifted: a sequence shorter than the shift keeps its last frame)."""
        f = self.config.frame_subsampling_factor
        n = (num_frames - frame_shift + f - 1) // f
        if frame_shift == 0:
            return n
        return n.clamp(min=1) if isinstance(n, torch.Tensor) else max(n, 1)

    def gather_input(
        self,
        feats: torch.Tensor,
        ivectors: torch.Tensor,
        lens: torch.Tensor,
        start: int = 0,
        num_out: Optional[int] = None,
        frame_shift: int = 0,
    ) -> torch.Tensor:
        """Padded network input ``(N, in_dim, T')`` for output frames ``start .. start+num_out``.

        ``start`` is in output frames; output frame j sits at input frame ``frame_shift + f * j``
        (Kaldi ``nnet3-chain-copy-egs --frame-shift``). Input frames outside a sequence are
        copies of its first/last frame; the i-vector of frame t is
        ``ivectors[min(t // period, T_iv - 1)]``.
        """
        c = self.config
        f = c.frame_subsampling_factor
        if num_out is None:
            num_out = int(self.num_output_frames(int(lens.max()), frame_shift))
        t0 = start * f + frame_shift - self.left_context
        width = (num_out - 1) * f + 1 + self.left_context + self.right_context
        t = torch.arange(t0, t0 + width, device=feats.device)
        N = feats.shape[0]
        last = (lens.to(feats.device) - 1).clamp(min=0).unsqueeze(1)
        idx = torch.minimum(t.clamp(min=0).unsqueeze(0).expand(N, -1), last)  # (N, W)
        normed = (feats - self.cmvn_mean) / self.cmvn_std
        return splice_frames(normed, ivectors, idx, list(c.splice), c.ivector_period)

    def input_lens(self, out_lens: torch.Tensor) -> torch.Tensor:
        """Valid frames of each sequence after ``lda``, given its output frames: those a batch
        of that sequence alone computes (its edge-padded context included), so a batchnorm over
        valid frames sees each sequence as if it ran alone."""
        c = self.config
        return (out_lens - 1) * c.frame_subsampling_factor + 1 + 2 * sum(c.time_strides)

    def run_layers(
        self, x: torch.Tensor, upto: str = "output", lens: Optional[torch.Tensor] = None
    ) -> torch.Tensor:
        """Run the padded input up to and including layer ``upto``; ``(N, C, T_out)``."""
        return self.run_layers_multi(x, [upto], lens)[upto]

    def run_layers_multi(
        self, x: torch.Tensor, layers: Sequence[str], lens: Optional[torch.Tensor] = None
    ) -> Dict[str, torch.Tensor]:
        """Outputs ``(N, C, T_out)`` of several layers in one pass (stops at the deepest):
        :class:`asr2emo.model.network.LayerCut`, the pass the exports script. ``lens``
        (:meth:`input_lens`): valid frames of each sequence, for the batchnorms in training."""
        key = tuple(layers)
        if key not in self._cuts:
            self._cuts[key] = LayerCut(self, layers)
        return self._cuts[key](x, lens)

    def forward(
        self,
        feats: torch.Tensor,
        ivectors: torch.Tensor,
        feat_lens: Optional[torch.Tensor] = None,
        layer: str = "output",
        xent: bool = False,
        frame_shift: Optional[int] = None,
    ):
        """``feats (N, T, feat_dim)`` raw MFCC, ``ivectors (N, T_iv, ivector_dim)``.

        Returns ``(log_probs (N, T_out, num_outputs), out_lens)`` with
        ``T_out = ceil((T - frame_shift) / frame_subsampling_factor)``; with ``layer`` set, that
        layer's output. ``frame_shift`` (input frames before the first output frame) defaults to
        :meth:`set_frame_shift`'s in training mode and to 0 in eval mode (decoding, extraction).
        ``xent=True`` (training with the xent branch) returns ``(log_probs, out_lens,
        xent_log_probs)``, the branch's log-softmax outputs shaped like ``log_probs``.
        """
        if frame_shift is None:
            frame_shift = self.frame_shift if self.training else 0
        if feat_lens is None:
            feat_lens = torch.full((feats.shape[0],), feats.shape[1], dtype=torch.int64)
        out_lens = self.num_output_frames(feat_lens.to(torch.int64), frame_shift)
        x = self.gather_input(feats, ivectors, feat_lens, frame_shift=frame_shift)
        lens = self.input_lens(out_lens)
        if xent:
            if self.xent is None or layer != "output":
                raise ValueError("xent=True needs a model built with xent_branch, layer=output")
            log_probs, xent_log_probs = self._outputs_with_xent(x, lens, out_lens)
            return log_probs, out_lens, xent_log_probs
        y = self.run_layers(x, upto=layer, lens=lens).transpose(1, 2)
        if layer == "output":
            y = torch.log_softmax(y, dim=-1)
        return y, out_lens

    def _outputs_with_xent(
        self, x: torch.Tensor, lens: Optional[torch.Tensor], out_lens: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``output`` and ``output-xent`` log-probabilities ``(N, T_out, C)`` in one pass.

        The last tdnnf layer's output is taken on the way to ``output`` (no context is left
        after it, so it is already at the output frames); the branch reads ``prefinal-l``
        (``prefinal``'s ``linear_in``), recomputed here: one 1x1 product, a few % of the net.
        ``lens`` are :meth:`input_lens`; at the output frames ``out_lens`` are the valid ones,
        which the branch's batchnorms keep to.
        """
        last_tdnnf = self.layer_names[-3]
        out = self.run_layers_multi(x, [last_tdnnf, "output"], lens)
        h = self.layers["prefinal"].linear_in(out[last_tdnnf])
        y = self.xent[XENT_OUTPUT](self.xent[XENT_PREFINAL](h, out_lens))
        log_probs = torch.log_softmax(out["output"].transpose(1, 2), dim=-1)
        return log_probs, torch.log_softmax(y.transpose(1, 2), dim=-1)

    @torch.no_grad()
    def extract(
        self,
        feats: torch.Tensor,
        ivectors: torch.Tensor,
        layer: str,
        feat_lens: Optional[torch.Tensor] = None,
        chunk_size: int = 0,
    ) -> torch.Tensor:
        """Layer ``layer``'s output ``(N, T_out, dim)`` at the subsampled rate.

        ``chunk_size`` > 0 computes blocks of that many output frames, each with its own
        left/right context, so memory stays bounded on long recordings; results equal the
        whole-utterance computation. Call it in eval mode for frozen-model features.
        """
        return self.extract_multi(feats, ivectors, [layer], feat_lens, chunk_size)[layer]

    @torch.no_grad()
    def extract_multi(
        self,
        feats: torch.Tensor,
        ivectors: torch.Tensor,
        layers: Sequence[str],
        feat_lens: Optional[torch.Tensor] = None,
        chunk_size: int = 0,
    ) -> Dict[str, torch.Tensor]:
        """:meth:`extract` for several layers in one pass: ``{layer: (N, T_out, dim)}``."""
        for layer in layers:
            self.check_layer(layer)
        if feat_lens is None:
            feat_lens = torch.full((feats.shape[0],), feats.shape[1], dtype=torch.int64)
        total = int(self.num_output_frames(int(feat_lens.max())))
        step = chunk_size if chunk_size > 0 else total
        pieces: Dict[str, List[torch.Tensor]] = {layer: [] for layer in layers}
        for start in range(0, total, max(step, 1)):
            n = min(step, total - start)
            x = self.gather_input(feats, ivectors, feat_lens, start=start, num_out=n)
            for layer, y in self.run_layers_multi(x, layers).items():
                y = y.transpose(1, 2)
                pieces[layer].append(torch.log_softmax(y, dim=-1) if layer == "output" else y)
        return {layer: torch.cat(p, dim=1) for layer, p in pieces.items()}


def build_model(config: TdnnfConfig, num_outputs: int, xent_branch: bool = False) -> TdnnfModel:
    """Build the model and log its size (the paper's is about 9-10 M parameters)."""
    model = TdnnfModel(config, num_outputs, xent_branch)
    xent = ""
    if model.has_xent:
        xent = f", {model.num_xent_params():,} of them in the xent branch"
    logging.info(
        f"TDNN-F: {model.num_params():,} parameters{xent} ({config.num_layers} layers, "
        f"hidden {config.hidden_dim}, bottleneck {config.bottleneck_dim}, prefinal "
        f"{config.prefinal_dim}, {num_outputs} outputs, context -{model.left_context}/"
        f"+{model.right_context})"
    )
    return model


def config_to_dict(config: TdnnfConfig) -> Dict:
    return asdict(config)
