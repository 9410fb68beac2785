"""End to end on real speech: the Kaldi yes/no corpus, 30 files to train, the other 30 to test.

The real trainer (asr2emo train-lfmmi, LF-MMI loss of asr2emo.lfmmi) and the real HLG decoder
must learn it: over training seeds 42-49 (1 thread, 2026-12-01) test WER was 0.42-2.08 %
(median 1.25 %; the default seed 42 gives 0.42 %), so the bound is 3.5 %. With batchnorm over
valid frames, the cycled frame shift and recomputed final statistics (conf/mini/lfmmi.conf),
seeds 42-57 gave 0.42-1.67 % (median 1.25 %; seed 42: 1.67 %) but for seed 49, 17.5 %: on this
tiny set an occasional seed ends in a deletion-heavy optimum (before those changes seed 50 did,
7.92 %), so the bound holds for the default seed, not for every seed. Audio is 8 kHz,
resampled to 16 kHz for the hires MFCC. The corpus has one speaker and no i-vectors: the cuts
carry none and the model sees zeros (--require-ivectors=false). A tiny TDNN-F (7 layers, width
96) keeps it to ~10 s on one core.
"""

from __future__ import annotations

import torch
from lhotse import CutSet

from asr2emo.lfmmi.decode import compute_wer, decode_one_best, format_wer, load_hlg
from asr2emo.model import load_model
from asr2emo.model.dataset import AsrDataset
from asr2emo.model.trainer import supervision_segments


def test_yesno_tdnnf_wer_within_the_seed_spread(yesno_tdnnf):
    exp, tmp_path = yesno_tdnnf, yesno_tdnnf.parent
    lang = tmp_path / "lang"
    assert (exp / "final.pt").is_file() and (exp / "loss.png").is_file()

    model = load_model(exp, "cpu")
    batch = AsrDataset(100, 10, require_ivectors=False)[
        CutSet.from_file(tmp_path / "test.jsonl.gz")
    ]
    with torch.no_grad():
        log_probs, out_lens = model(batch["feats"], batch["ivectors"], batch["feat_lens"])
    segs, order = supervision_segments(out_lens)
    hyps = decode_one_best(log_probs, segs, load_hlg(lang))
    refs = [batch["texts"][i].split() for i in order.tolist()]
    stats = compute_wer(refs, hyps)
    print(f"yes/no test (30 files): {format_wer(stats)}")
    assert stats["words"] == 240
    assert stats["wer"] <= 3.5, format_wer(stats)
