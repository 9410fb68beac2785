"""HLG decoding of constructed network outputs, and WER against hand-computed counts."""

from __future__ import annotations

from typing import List

import pytest
import torch

from asr2emo.lang import prepare_lang_from_lexicon
from asr2emo.lang.lexicon import read_symbol_table
from asr2emo.lfmmi.decode import (
    alignment_lines,
    compute_wer,
    decode_one_best,
    format_wer,
    load_hlg,
)

LEXICON = {
    "the": [["DH", "AH"]],
    "cat": [["K", "AE", "T"]],
    "cats": [["K", "AE", "T", "S"]],
    "sat": [["S", "AE", "T"]],
    "at": [["AE", "T"]],
    "mat": [["M", "AE", "T"]],
}
TEXTS = ["the cat sat", "the cats sat", "the cat sat at the mat", "the mat", "cats sat at the mat"]


@pytest.fixture(scope="module")
def lang(tmp_path_factory):
    return prepare_lang_from_lexicon(LEXICON, TEXTS, tmp_path_factory.mktemp("lang") / "lang")


def peaky_output(phone_ids: List[int], num_outputs: int, frames_per_phone: int = 3) -> torch.Tensor:
    """(T, C) log-probs: each phone peaks on one frame, blank (0) elsewhere, some noise mass."""
    rows = []
    for pid in [0] + [p for q in phone_ids for p in (q, 0)]:
        n = 1 if pid else frames_per_phone
        for _ in range(n):
            row = torch.full((num_outputs,), 0.02)
            row[pid] = 1.0
            rows.append(row)
    y = torch.stack(rows)
    return (y / y.sum(-1, keepdim=True)).log()


def test_decode_constructed_outputs(lang):
    phones = read_symbol_table(lang / "phones.txt")
    C = phones["#0"]
    HLG = load_hlg(lang)
    utts = {
        "the cat sat": "SIL DH AH K AE T S AE T SIL",
        "the cats sat": "DH AH K AE T S S AE T",
        "the mat": "DH AH M AE T",
        "cat at the mat": "K AE T SIL AE T DH AH M AE T",
    }
    outs = [peaky_output([phones[p] for p in s.split()], C) for s in utts.values()]
    T = max(o.shape[0] for o in outs)
    batch = torch.stack([torch.cat([o, o[-1:].expand(T - o.shape[0], C)]) for o in outs])
    lens = torch.tensor([o.shape[0] for o in outs])
    order = torch.argsort(lens, descending=True)
    segs = torch.stack([order, torch.zeros_like(order), lens[order]], 1).to(torch.int32)
    hyps = decode_one_best(batch, segs, HLG)
    refs = list(utts)
    for row, hyp in zip(order.tolist(), hyps):
        assert " ".join(hyp) == refs[row]
    # the explicit default acoustic scale is the default; a scale <= 0 is refused
    assert decode_one_best(batch, segs, HLG, acoustic_scale=1.0) == hyps
    with pytest.raises(ValueError, match="acoustic_scale"):
        decode_one_best(batch, segs, HLG, acoustic_scale=0.0)


def test_decode_word_table_required(lang):
    from asr2emo.lang.graphs import load_fsa

    HLG = load_fsa(lang / "HLG.pt")
    y = torch.zeros(1, 5, 4).log_softmax(-1)
    with pytest.raises(ValueError, match="word table"):
        decode_one_best(y, torch.tensor([[0, 0, 5]], dtype=torch.int32), HLG)


def test_compute_wer_hand_example():
    refs = ["a b c d", "e f", "g"]
    hyps = ["a x c", "e f g", "g"]
    # utt1: b->x (sub), d deleted; utt2: g inserted; utt3 correct -> 3 errors / 7 words
    s = compute_wer(refs, hyps)
    assert (s["ins"], s["del"], s["sub"], s["errors"], s["words"]) == (1, 1, 1, 3, 7)
    assert s["wer"] == pytest.approx(300 / 7)
    assert s["sent_errors"] == 2 and s["sentences"] == 3
    assert format_wer(s) == "%WER 42.86 [ 3 / 7, 1 ins, 1 del, 1 sub ]"
    lines = alignment_lines("u1", refs[0].split(), hyps[0].split())
    assert lines[2] == "u1:\ta (b->x) c (d->*)"
    with pytest.raises(ValueError):
        compute_wer(["a"], [])
