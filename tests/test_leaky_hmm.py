"""Kaldi's leaky HMM in the denominator: the compiled graph against the forward recursion."""

from __future__ import annotations

import math

import pytest
import torch

from asr2emo.lang import prepare_lang_from_lexicon
from asr2emo.lang.prepare import ChainOptions
from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.leaky_hmm import add_leaky_hmm, initial_probs
from asr2emo.lfmmi.loss import LfMmiLoss
from asr2emo.utils.errors import UserError

LEXICON = {"ab": [["A", "B"]], "b": [["B"]]}
TEXTS = ["ab b", "b ab", "ab", "ab ab b"]


@pytest.fixture(scope="module", params=["chain", "ctc"])
def lang(request, tmp_path_factory):
    return prepare_lang_from_lexicon(
        LEXICON, TEXTS, tmp_path_factory.mktemp("lang") / "lang", phone_lm_order=2,
        topology=request.param, chain=ChainOptions(min_biphone_count=2, min_monophone_count=1),
    )  # fmt: skip


def leaky_forward(den, y: torch.Tensor, c: float, init: torch.Tensor) -> float:
    """log total of chain-denominator.cc's recursion: after every frame,
    alpha(t, s) += c * init(s) * sum_u alpha(t, u); at the end, sum_s alpha(T, s) final(s)."""
    arcs = den.arcs.values()
    src, dst, lab = arcs[:, 0].long(), arcs[:, 1].long(), arcs[:, 2].long()
    w = den.scores.detach().double().exp()
    em = lab >= 0
    alpha = torch.zeros(den.shape[0], dtype=torch.float64)
    alpha[0] = 1.0
    for t in range(y.shape[0]):
        step = alpha[src[em]] * w[em] * y[t, lab[em]].double().exp()
        alpha = torch.zeros_like(alpha).index_add_(0, dst[em], step)
        alpha = alpha + c * alpha.sum() * init
    final = torch.zeros_like(alpha).index_add_(0, src[~em], w[~em])
    return math.log(float((alpha * final).sum()))


def test_initial_probs_are_a_distribution(lang):
    den = MmiGraphCompiler(lang).den_graph
    init = initial_probs(den)
    assert float(init.sum()) == pytest.approx(1.0) and float(init.min()) >= 0
    assert float(init[-1]) == 0.0  # the final state has no mass


def test_leaky_den_matches_the_recursion_and_num_is_unchanged(lang):
    plain = MmiGraphCompiler(lang)
    leaky = MmiGraphCompiler(lang, leaky_hmm_coefficient=0.1)
    init = initial_probs(plain.den_graph)
    T = 7
    segs = torch.tensor([[0, 0, T]], dtype=torch.int32)
    for seed in range(3):
        torch.manual_seed(seed)
        y = torch.randn(1, T, plain.num_outputs).log_softmax(-1)
        _, info0 = LfMmiLoss(plain, output_beam=1000.0)(y, segs, ["ab"])
        _, info = LfMmiLoss(leaky, output_beam=1000.0)(y, segs, ["ab"])
        ref = leaky_forward(plain.den_graph, y[0], 0.1, init)
        assert info["den_tot"] == pytest.approx(ref, abs=1e-4)
        assert info0["den_tot"] == pytest.approx(leaky_forward(plain.den_graph, y[0], 0, init))
        assert info["den_tot"] > info0["den_tot"]  # the leak only adds paths
        assert info["num_tot"] == info0["num_tot"] <= info["den_tot"]


def test_coefficient_zero_is_the_plain_graph_and_bad_values_are_refused(lang):
    den = MmiGraphCompiler(lang).den_graph
    assert add_leaky_hmm(den, 0.0) is den
    with pytest.raises(UserError, match="leaky-hmm-coefficient"):
        add_leaky_hmm(den, 1.5)
    with pytest.raises(UserError, match="leaky-hmm-coefficient"):
        MmiGraphCompiler(lang, leaky_hmm_coefficient=-0.1)
