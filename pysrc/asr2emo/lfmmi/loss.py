"""The LF-MMI objective with k2: log p(num graph | x) - den_scale * log p(den graph | x).

Both totals are forward scores in the log semiring of exact (output-beam pruned) intersections
``k2.intersect_dense`` of the graphs with the network outputs. The denominator graph is shared by
all sequences (``k2.index_fsa`` replicates it per sequence, as icefall). Optional regularizers,
weighted in the returned loss: a CTC loss on the same outputs (``ctc_topo o L(transcript)``, no
phone LM) and Kaldi chain's ``--l2-regularize`` (0.5 * scale * sum of squared outputs over the
supervised frames; here the outputs are log-probabilities, so it pulls them towards uniform)
and Kaldi chain's ``--xent-regularize``: the cross-entropy of the model's ``output-xent`` branch
against the numerator's frame posteriors (:mod:`asr2emo.lfmmi.xent`), weighted by
``xent_regularize`` (Kaldi ``nnet3/nnet-chain-training.cc`` ``ProcessOutputs``).

Sequences whose numerator is empty (-inf: transcript longer than the frames allow) are left out
of the loss (the MMI and the xent terms alike) and counted in ``info["num_failed"]``, so one bad
utterance cannot poison a batch.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import k2
import torch
from torch import Tensor

from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.xent import numerator_posteriors


class LfMmiLoss:
    """``loss_sum, info = LfMmiLoss(compiler)(nnet_output, supervision_segments, texts)``.

    ``nnet_output``: (N, T, C) log-softmax outputs; ``supervision_segments``: int32 (S, 3) rows
    ``[sequence_index, start_frame, num_frames]`` sorted by ``num_frames`` descending;
    ``texts``: S transcripts in the same order; ``xent_output``: (N, T, C) log-softmax outputs
    of the xent branch, required when ``xent_regularize`` > 0. ``loss_sum`` is summed over
    sequences (divide by ``info["frames"]``): ``-mmi + xent_regularize * xent`` (+ ctc, l2).
    ``info`` holds floats: ``loss``, ``num_tot``, ``den_tot``, ``mmi``, ``ctc``, ``l2``,
    ``xent`` (``-sum target * log_prob``, unweighted), ``frames``, ``sequences``, ``num_failed``.
    """

    def __init__(
        self,
        graph_compiler: MmiGraphCompiler,
        den_scale: float = 1.0,
        output_beam: float = 10.0,
        use_double_scores: bool = True,
        ctc_weight: float = 0.0,
        l2_regularize: float = 0.0,
        xent_regularize: float = 0.0,
    ):
        if xent_regularize < 0:
            raise ValueError(f"xent_regularize must be >= 0, got {xent_regularize}")
        self.graph_compiler = graph_compiler
        self.den_scale = den_scale
        self.output_beam = output_beam
        self.use_double_scores = use_double_scores
        self.ctc_weight = ctc_weight
        self.l2_regularize = l2_regularize
        self.xent_regularize = xent_regularize

    def _tot_scores(self, graphs: k2.Fsa, dense: k2.DenseFsaVec) -> Tensor:
        lats = k2.intersect_dense(graphs, dense, output_beam=self.output_beam)
        return lats.get_tot_scores(log_semiring=True, use_double_scores=self.use_double_scores)

    def __call__(
        self,
        nnet_output: Tensor,
        supervision_segments: Tensor,
        texts: List[str],
        xent_output: Optional[Tensor] = None,
    ) -> Tuple[Tensor, Dict[str, float]]:
        segs = supervision_segments.to(torch.int32).cpu()
        if segs.ndim != 2 or segs.shape[1] != 3 or segs.shape[0] != len(texts):
            raise ValueError(f"supervision_segments must be (S, 3) with S={len(texts)}")
        if segs.shape[0] > 1 and bool((segs[1:, 2] > segs[:-1, 2]).any()):
            raise ValueError("supervision_segments must be sorted by num_frames, descending")
        if nnet_output.shape[-1] != self.graph_compiler.num_outputs:
            raise ValueError(
                f"nnet_output has {nnet_output.shape[-1]} outputs, "
                f"the lang has {self.graph_compiler.num_outputs}"
            )
        if self.xent_regularize > 0 and (
            xent_output is None or xent_output.shape != nnet_output.shape
        ):
            raise ValueError("xent_regularize > 0 needs xent_output shaped like nnet_output")
        dense = k2.DenseFsaVec(nnet_output, segs)
        num_graphs, den_graph = self.graph_compiler.compile(texts)
        num_tot = self._tot_scores(num_graphs, dense)
        den_graphs = k2.index_fsa(
            den_graph, torch.zeros(len(texts), dtype=torch.int32, device=den_graph.device)
        )
        den_tot = self._tot_scores(den_graphs, dense)
        mmi = num_tot - self.den_scale * den_tot
        ok = torch.isfinite(num_tot) & torch.isfinite(den_tot)
        frames = segs[:, 2].to(torch.float64)
        loss = -torch.where(ok, mmi, torch.zeros_like(mmi)).sum()
        info: Dict[str, float] = {
            "num_tot": float(num_tot[ok].sum()),
            "den_tot": float(den_tot[ok].sum()),
            "mmi": float(mmi[ok].sum()),
            "frames": float(frames[ok.cpu()].sum()),
            "sequences": float(len(texts)),
            "num_failed": float((~ok).sum()),
        }
        if self.ctc_weight > 0:
            ctc_tot = self._tot_scores(self.graph_compiler.compile_ctc(texts), dense)
            ok_ctc = ok & torch.isfinite(ctc_tot)
            ctc = -torch.where(ok_ctc, ctc_tot, torch.zeros_like(ctc_tot)).sum()
            loss = loss + self.ctc_weight * ctc
            info["ctc"] = float(ctc)
        if self.l2_regularize > 0:
            l2 = nnet_output.new_zeros(())
            for (n, start, dur), good in zip(segs.tolist(), ok.tolist()):
                if good:
                    l2 = l2 + nnet_output[n, start : start + dur].pow(2).sum()
            l2 = 0.5 * self.l2_regularize * l2
            loss = loss + l2.to(loss.dtype)
            info["l2"] = float(l2)
        if self.xent_regularize > 0:
            targets = numerator_posteriors(
                num_graphs, nnet_output, segs, self.output_beam, self.use_double_scores, keep=ok
            )
            # The targets are zero outside the unfailed segments, so this sums over their frames.
            xent = -(targets.to(xent_output.dtype) * xent_output).sum()
            loss = loss + self.xent_regularize * xent.to(loss.dtype)
            info["xent"] = float(xent)
        info["loss"] = float(loss)
        return loss, info
