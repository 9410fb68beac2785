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

import json
from pathlib import Path

import torch
from lhotse import CutSet

from asr2emo.cli import main as cli
from asr2emo.lfmmi.decode import compute_wer, decode_one_best, format_wer, load_hlg
from asr2emo.model import load_model
from asr2emo.model.dataset import AsrDataset
from asr2emo.model.trainer import supervision_segments


def one_batch_wer(exp: Path, lang: Path, cuts: Path) -> dict:
    """WER of all cuts decoded as one batch, straight through the model and decode_one_best."""
    model = load_model(exp, "cpu")
    batch = AsrDataset(100, 10, require_ivectors=False)[CutSet.from_file(cuts)]
    with torch.no_grad():
        log_probs, out_lens = model(batch["feats"], batch["ivectors"], batch["feat_lens"])
    segs, order = supervision_segments(out_lens)
    hyps = decode_one_best(log_probs, segs, load_hlg(lang))
    return compute_wer([batch["texts"][i].split() for i in order.tolist()], hyps)


def test_yesno_tdnnf_wer_within_the_seed_spread(yesno_tdnnf):
    exp, tmp_path = yesno_tdnnf, yesno_tdnnf.parent
    lang = tmp_path / "lang"
    assert (exp / "final.pt").is_file() and (exp / "loss.png").is_file()

    stats = one_batch_wer(exp, lang, tmp_path / "test.jsonl.gz")
    print(f"yes/no test (30 files): {format_wer(stats)}")
    assert stats["words"] == 240
    assert stats["wer"] <= 3.5, format_wer(stats)


def test_decode_verb_reads_the_checkpoint_once(yesno_tdnnf, tmp_path, monkeypatch):
    """One decoding job uses the model the verb loaded (and checked against the lang dir), and
    decodes in duration-bounded batches what one batch of all cuts decodes."""
    exp, work = yesno_tdnnf, yesno_tdnnf.parent
    real_load, loaded = torch.load, []

    def counting_load(f, *args, **kwargs):
        loaded.append(Path(f).name)
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    out = tmp_path / "decode"
    rc = cli(["decode", "--require-ivectors", "false", "--max-duration", "20",
              str(exp), str(work / "lang"), str(work / "test.jsonl.gz"), str(out)])  # fmt: skip
    assert rc == 0
    assert loaded.count("final.pt") == 1 and loaded.count("HLG.pt") == 1, loaded
    monkeypatch.undo()
    got = json.loads((out / "decode.json").read_text())
    ref = one_batch_wer(exp, work / "lang", work / "test.jsonl.gz")
    assert {k: got[k] for k in ref} == ref
