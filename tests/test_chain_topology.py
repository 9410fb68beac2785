"""Chain topology graphs in k2: num/den totals by brute force, num <= den, HCLG decoding."""

from __future__ import annotations

import argparse
import itertools
import math
from typing import Iterator, List, Tuple

import k2
import pytest
import torch

from asr2emo.lang import prepare_lang_from_lexicon
from asr2emo.lang.biphone import pdf_sequence, read_pdf_map
from asr2emo.lang.chain_topo import chain_topo
from asr2emo.lang.graphs import load_fsa
from asr2emo.lang.lexicon import read_symbol_table
from asr2emo.lang.prepare import ChainOptions
from asr2emo.lfmmi.decode import decode_one_best, load_hlg
from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.loss import LfMmiLoss
from asr2emo.utils.errors import UserError

# Two real phones (+ SIL, SPN): A, B; the words need both.
LEXICON = {"ab": [["A", "B"]], "b": [["B"]]}
TEXTS = ["ab b", "b ab", "ab", "ab ab b"]


@pytest.fixture(scope="module")
def lang(tmp_path_factory):
    # --min-biphone-count=2 --min-monophone-count=1: biphone, monophone and zerophone pairs
    return prepare_lang_from_lexicon(
        LEXICON, TEXTS, tmp_path_factory.mktemp("lang") / "lang", phone_lm_order=2,
        topology="chain", chain=ChainOptions(min_biphone_count=2, min_monophone_count=1),
    )  # fmt: skip


@pytest.fixture(scope="module")
def compiler(lang) -> MmiGraphCompiler:
    return MmiGraphCompiler(lang, "cpu")


def compositions(total: int, parts: int) -> Iterator[Tuple[int, ...]]:
    """Durations >= 1 of ``parts`` phones summing to ``total`` frames."""
    for cuts in itertools.combinations(range(1, total), parts - 1):
        yield tuple(b - a for a, b in zip((0,) + cuts, cuts + (total,)))


def p_logprob(P: k2.Fsa, phone_ids) -> float:
    lin = k2.linear_fsa([list(phone_ids)])
    out = k2.intersect(k2.arc_sort(P), lin, treat_epsilons_specially=False)
    return float(out.get_tot_scores(log_semiring=True, use_double_scores=True))


def test_totals_match_brute_force(lang, compiler):
    """Every phone string of up to T phones with every duration split, its frames' pdfs from
    the topology's definition (first-frame pdf, then self-loops; :func:`pdf_sequence`):
    den = logsumexp(acoustic + log P(string)); num keeps the strings of "ab" (optional SIL
    before and after, 1/4 each through L)."""
    phones = read_symbol_table(lang / "phones.txt")
    pdf_map = read_pdf_map(lang / "pdf_map.txt", phones)
    P = load_fsa(lang / "P.pt")
    real = list(pdf_map.phones)
    assert len(real) == 4 and compiler.num_outputs == pdf_map.num_pdfs
    sil, a, b = phones["SIL"], phones["A"], phones["B"]
    num_strings = {
        pre + (a, b) + post: math.log(0.25) for pre in [(), (sil,)] for post in [(), (sil,)]
    }
    T = 5
    torch.manual_seed(3)
    y = torch.randn(1, T, compiler.num_outputs, dtype=torch.float64).log_softmax(-1)
    den_terms: List[float] = []
    num_terms: List[float] = []
    for n in range(1, T + 1):
        for string in itertools.product(real, repeat=n):
            lm = p_logprob(P, string)
            for durs in compositions(T, n):
                pdfs = pdf_sequence(pdf_map, string, durs)
                ac = float(sum(y[0, t, k] for t, k in enumerate(pdfs)))
                den_terms.append(ac + lm)
                if string in num_strings:
                    num_terms.append(ac + lm + num_strings[string])
    den_ref = float(torch.logsumexp(torch.tensor(den_terms, dtype=torch.float64), 0))
    num_ref = float(torch.logsumexp(torch.tensor(num_terms, dtype=torch.float64), 0))
    segs = torch.tensor([[0, 0, T]], dtype=torch.int32)
    loss, info = LfMmiLoss(compiler, output_beam=1000.0)(y.float(), segs, ["ab"])
    assert info["den_tot"] == pytest.approx(den_ref, abs=1e-3)
    assert info["num_tot"] == pytest.approx(num_ref, abs=1e-3)
    assert float(loss) == pytest.approx(den_ref - num_ref, abs=1e-3)


def test_num_never_exceeds_den(compiler):
    texts = ["ab ab b", "b ab", "ab"]
    segs = torch.tensor([[1, 0, 40], [0, 5, 30], [2, 0, 25]], dtype=torch.int32)
    loss_fn = LfMmiLoss(compiler, ctc_weight=0.1)
    for seed in range(5):
        torch.manual_seed(seed)
        x = torch.randn(3, 40, compiler.num_outputs, requires_grad=True)
        for i in range(3):  # per utterance
            _, info = loss_fn(x.log_softmax(-1), segs[i : i + 1], texts[i : i + 1])
            assert info["num_tot"] <= info["den_tot"] + 1e-6
        loss, info = loss_fn(x.log_softmax(-1), segs, texts)
        assert info["num_failed"] == 0 and info["frames"] == 95 and float(loss) > 0
        loss.backward()
        assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_transducer_is_epsilon_free_and_covers_the_pdfs(lang):
    phones = read_symbol_table(lang / "phones.txt")
    pdf_map = read_pdf_map(lang / "pdf_map.txt", phones)
    H = chain_topo(pdf_map)
    labels = H.labels[H.labels >= 0]
    assert sorted(set(labels.tolist())) == list(range(pdf_map.num_pdfs))
    # phone labels only on first-frame arcs: one per (state, next phone), none on self-loops
    src, dst = H.arcs.values()[:, 0], H.arcs.values()[:, 1]
    loops = (src == dst) & (H.aux_labels == 0)
    assert int(loops.sum()) == H.shape[0] - 2  # every inside-phone state, not start or final
    assert int((H.aux_labels > 0).sum()) == (H.shape[0] - 1) * len(pdf_map.phones)


def peaky(pdfs: List[int], num_outputs: int) -> torch.Tensor:
    """(T, C) log-probs peaked on the given pdf of every frame."""
    y = torch.full((len(pdfs), num_outputs), 0.02)
    y[torch.arange(len(pdfs)), torch.tensor(pdfs)] = 1.0
    return (y / y.sum(-1, keepdim=True)).log()


DECODE_LEXICON = {
    "the": [["DH", "AH"]],
    "cat": [["K", "AE", "T"]],
    "cats": [["K", "AE", "T", "S"]],
    "sat": [["S", "AE", "T"]],
    "at": [["AE", "T"]],
    "mat": [["M", "AE", "T"]],
}
DECODE_TEXTS = [
    "the cat sat",
    "the cats sat",
    "the cat sat at the mat",
    "the mat",
    "cats sat at the mat",
]


def test_decode_synthetic_posteriors_through_hclg(tmp_path):
    lang = prepare_lang_from_lexicon(
        DECODE_LEXICON, DECODE_TEXTS, tmp_path / "lang", topology="chain",
        chain=ChainOptions(min_biphone_count=2, min_monophone_count=0),
    )  # fmt: skip
    phones = read_symbol_table(lang / "phones.txt")
    pdf_map = read_pdf_map(lang / "pdf_map.txt", phones)
    assert {"biphone", "mono"} <= set(pdf_map.kinds.values())
    HCLG = load_hlg(lang)
    assert (
        0 <= int(HCLG.labels[HCLG.labels >= 0].min()) and int(HCLG.labels.max()) < pdf_map.num_pdfs
    )
    utts = {
        "the cat sat": "SIL DH AH K AE T S AE T SIL",
        "the cats sat": "DH AH K AE T S S AE T",
        "the mat": "DH AH M AE T",
        "cat at the mat": "K AE T SIL AE T DH AH M AE T",
    }
    outs = []
    for i, s in enumerate(utts.values()):
        ids = [phones[p] for p in s.split()]
        durs = [1 + (i + j) % 3 for j in range(len(ids))]  # 1-3 frames per phone
        outs.append(peaky(pdf_sequence(pdf_map, ids, durs), pdf_map.num_pdfs))
    T = max(o.shape[0] for o in outs)
    C = pdf_map.num_pdfs
    batch = torch.stack([torch.cat([o, o[-1:].expand(T - o.shape[0], C)]) for o in outs])
    lens = torch.tensor([o.shape[0] for o in outs])
    order = torch.argsort(lens, descending=True)
    segs = torch.stack([order, torch.zeros_like(order), lens[order]], 1).to(torch.int32)
    hyps = decode_one_best(batch, segs, HCLG)
    refs = list(utts)
    assert [" ".join(h) for h in hyps] == [refs[i] for i in order.tolist()]


def test_trainer_checks_the_topology(lang):
    from asr2emo.model.trainer import build_loss

    args = argparse.Namespace(
        lang_dir=str(lang), topology="chain", loss="lfmmi", den_scale=None, ctc_weight=None,
        l2_regularize=None, output_beam=None,
    )  # fmt: skip
    loss_fn, num_outputs = build_loss(args, torch.device("cpu"))
    assert (
        num_outputs
        == loss_fn.graph_compiler.num_outputs
        == read_pdf_map(lang / "pdf_map.txt", read_symbol_table(lang / "phones.txt")).num_pdfs
    )
    args.topology = "ctc"
    with pytest.raises(UserError, match="built with --topology=chain"):
        build_loss(args, torch.device("cpu"))
    args.topology, args.loss = None, "ctc"
    with pytest.raises(UserError, match="--loss=ctc needs"):
        build_loss(args, torch.device("cpu"))
