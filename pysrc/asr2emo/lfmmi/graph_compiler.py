"""Numerator and denominator graphs for LF-MMI with k2 (CTC or chain topology).

The lang directory says which topology H maps network outputs to phones (``lang.json``):

``chain`` (``--topology=chain``, the paper's, Kaldi's flat-start e2e chain of Hadian et al.
2018): H is the biphone context + HMM transducer of :mod:`asr2emo.lang.chain_topo` over the pdfs
of ``pdf_map.txt``; the denominator is H o P (Kaldi ``src/chain/chain-den-graph.cc`` composes
the phone LM with C and H the same way, then minimizes; we keep the transducer so that the
numerator can be cut out of it), the numerator H o P o L(transcript) as below.

``ctc``: **CTC** (``k2.ctc_topo`` over the phones, network output 0 = blank), as icefall's
MMI recipes (``MmiTrainingGraphCompiler``: ctc_topo o P for the denominator, ctc_topo o P o
transcript for the numerator). Kaldi's regular chain recipes cluster their pdfs with a tree
grown on GMM alignments we do not have; without alignments, the choices are the flat-start
biphones above (no tree, pdfs tied by counts) or monophone CTC with a shared blank, which is
known to train robustly from scratch with k2 LF-MMI (the demo's default for now). Frame
subsampling 3 is handled by the model; both topologies allow one output frame per phone.

The numerator is ``H o P o L(transcript)``: it contains the same P scores as the denominator
``H o P``, so every numerator path is a denominator path with weight at most its denominator
weight (L's silence probabilities are <= 1), hence num <= den (Kaldi chain also puts the LM in
the numerator via the normalization FST).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import List, Tuple

import k2
import torch

from asr2emo.lang.biphone import read_pdf_map
from asr2emo.lang.chain_topo import chain_topo
from asr2emo.lang.graphs import load_fsa
from asr2emo.lang.lexicon import read_symbol_table
from asr2emo.lang.prepare import read_lang_info
from asr2emo.lfmmi.leaky_hmm import add_leaky_hmm
from asr2emo.utils.errors import UserError


class MmiGraphCompiler:
    """LF-MMI graphs from a lang directory (``L.pt``, ``P.pt``, ``words.txt``, ``lang.json``).

    ``leaky_hmm_coefficient`` > 0 adds Kaldi's leaky HMM to the denominator only
    (:mod:`asr2emo.lfmmi.leaky_hmm`); the numerator is cut out of the graph without leaks.
    """

    def __init__(
        self,
        lang_dir: Path | str,
        device: torch.device | str = "cpu",
        oov: str = "<unk>",
        leaky_hmm_coefficient: float = 0.0,
    ):
        self.lang_dir = Path(lang_dir)
        self.device = torch.device(device)
        info = read_lang_info(self.lang_dir)
        self.topology: str = str(info.get("topology"))
        if self.topology not in ("ctc", "chain"):
            raise UserError(f"{lang_dir}: unsupported topology '{info.get('topology')}'")
        self.num_outputs: int = int(info["num_outputs"])
        self.words = read_symbol_table(self.lang_dir / "words.txt")
        if oov not in self.words:
            raise UserError(f"{lang_dir}: OOV word '{oov}' is not in words.txt")
        self.oov_id = self.words[oov]
        L = load_fsa(self.lang_dir / "L.pt")
        self.L_inv = k2.arc_sort(L.invert()).to(self.device)
        P = load_fsa(self.lang_dir / "P.pt")
        if self.topology == "ctc":
            H = k2.ctc_topo(self.num_outputs - 1, modified=False)
        else:
            phones = read_symbol_table(self.lang_dir / "phones.txt")
            pdf_map = read_pdf_map(self.lang_dir / info["pdf_map"], phones)
            if pdf_map.num_pdfs != self.num_outputs:
                raise UserError(f"{lang_dir}: pdf_map.txt and lang.json disagree on the pdfs")
            H = chain_topo(pdf_map)
        self.topo = k2.arc_sort(H).to(self.device)
        self.num_base = self._build_den_graph(P)  # H o P: what numerators are cut from
        name = "ctc_topo o P" if self.topology == "ctc" else "chain H o P"
        logging.info(
            f"den graph ({name}): {self.num_base.shape[0]} states, "
            f"{self.num_base.num_arcs} arcs; {self.num_outputs} outputs"
        )
        self.den_graph = self.num_base
        if leaky_hmm_coefficient > 0:
            self.den_graph = add_leaky_hmm(self.num_base, leaky_hmm_coefficient).to(self.device)
            logging.info(
                f"leaky HMM (coefficient {leaky_hmm_coefficient}): den graph "
                f"{self.den_graph.shape[0]} states, {self.den_graph.num_arcs} arcs"
            )
        elif leaky_hmm_coefficient < 0:
            raise UserError(f"--leaky-hmm-coefficient must be >= 0, got {leaky_hmm_coefficient}")

    def _build_den_graph(self, P: k2.Fsa) -> k2.Fsa:
        """H o P: labels = network outputs, aux_labels = phones (P is epsilon-free)."""
        P = k2.arc_sort(P).to(self.device)
        P_loops = k2.add_epsilon_self_loops(P)
        topo_inv = k2.arc_sort(self.topo.invert())
        den = k2.intersect(topo_inv, P_loops, treat_epsilons_specially=False).invert()
        return k2.arc_sort(k2.connect(den))

    def word_ids(self, texts: List[str]) -> List[List[int]]:
        return [[self.words.get(w, self.oov_id) for w in t.split()] for t in texts]

    def transcript_fsa(self, texts: List[str]) -> k2.Fsa:
        """Phone acceptors (with silence options and alternatives) of the transcripts via L."""
        fsa = k2.add_epsilon_self_loops(k2.linear_fsa(self.word_ids(texts), self.device))
        trans = k2.intersect(self.L_inv, fsa, treat_epsilons_specially=False).invert_()
        del trans.aux_labels
        trans = k2.remove_epsilon_and_add_self_loops(k2.connect(trans))
        return k2.arc_sort(trans)

    def compile(self, texts: List[str]) -> Tuple[k2.Fsa, k2.Fsa]:
        """(numerator graphs, one per text; denominator graph as an FsaVec of one FSA)."""
        trans = self.transcript_fsa(texts)
        num = k2.compose(self.num_base, trans, treat_epsilons_specially=False)
        num = k2.arc_sort(k2.connect(num))
        return num, k2.create_fsa_vec([self.den_graph])

    def compile_ctc(self, texts: List[str]) -> k2.Fsa:
        """Graphs H o L(transcript) without the phone LM, for the CTC-style regularizer."""
        trans = self.transcript_fsa(texts)
        graph = k2.compose(self.topo, trans, treat_epsilons_specially=False)
        return k2.arc_sort(k2.connect(graph))
