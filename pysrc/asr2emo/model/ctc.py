"""Phone-level CTC loss with k2 (``--loss=ctc``): a baseline and a stand-in for LF-MMI.

Same call interface as :class:`asr2emo.lfmmi.loss.LfMmiLoss`:
``loss(log_probs (N, T, C), supervision_segments (S, 3) int32, texts) -> (loss_sum, info)``.
Each transcript becomes the phone sequence of the first pronunciation of its words
(``<lang>/lexicon.txt``, out-of-lexicon words -> ``<unk>``), and ``k2.ctc_graph`` its CTC graph.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import k2
import torch

from asr2emo.lang.lexicon import UNK, read_lexicon_txt, read_symbol_table


class CtcLoss:
    """k2 CTC over the lang directory's phones (blank = 0)."""

    def __init__(self, lang_dir: Path | str, device: torch.device | str = "cpu") -> None:
        lang_dir = Path(lang_dir)
        self.phones = read_symbol_table(lang_dir / "phones.txt")
        lexicon = read_lexicon_txt(lang_dir / "lexicon.txt")
        self.pron: Dict[str, List[int]] = {
            w: [self.phones[p] for p in prons[0]] for w, prons in lexicon.items()
        }
        self.device = torch.device(device)

    def phone_ids(self, text: str) -> List[int]:
        ids: List[int] = []
        for w in text.split():
            ids.extend(self.pron.get(w, self.pron.get(UNK, [])))
        return ids

    def __call__(
        self, log_probs: torch.Tensor, supervision_segments: torch.Tensor, texts: Sequence[str]
    ) -> Tuple[torch.Tensor, Dict[str, float]]:
        graphs = k2.ctc_graph(
            [self.phone_ids(t) for t in texts], modified=False, device=log_probs.device
        )
        dense = k2.DenseFsaVec(log_probs, supervision_segments.cpu())
        loss = k2.ctc_loss(graphs, dense, output_beam=10.0, reduction="sum", use_double_scores=True)
        return loss, {"ctc": float(loss.detach())}
