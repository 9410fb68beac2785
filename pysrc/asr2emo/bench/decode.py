"""Benchmark: decoding real-time factor (TDNN-F forward + HLG 1-best search), 1 thread.

As stage 5 decodes: the network's log-probs go through ``k2.intersect_dense_pruned`` with HLG
(search beam 20, output beam 8, max 10000 active states) and the best path
(:mod:`asr2emo.lfmmi.decode`). 60 s of audio in 10 s utterances, one batch.

- Network: paper size (conf/tdnnf.conf) and demo size (conf/mini/tdnnf.conf), random weights in
  eval mode (the forward's cost does not depend on the values).
- Lang: the demo lang ``data/lang`` when a finished one with ``HLG.pt`` is there, else a seeded
  synthetic one of the same scale (39 phones, 300 words, word 3-gram) built on the spot; a
  TED-LIUM-size HLG (150k words) is larger and searches slower.
- Search input: a random network's output is nearly flat, so the search keeps the maximum number
  of states (a worst case). A trained network is peaky; its search is timed on synthetic peaky
  log-probs: a random sentence's phones, 2-4 output frames each with blanks between, +5 nats
  over Gaussian noise (``PEAK``: chosen so that the search costs about what the trained demo
  model's costs on real test speech, slightly more; +8 searches 3x faster, +4 2.5x slower).
  The figure uses the peaky search; the flat one (first utterance only: it needs GBs for the
  whole batch) is reported beside it.

RTF = (forward + search) seconds / audio seconds.

When the demo run has left a trained model (exp/tdnnf/final.pt) and test cuts with i-vectors, up
to 60 s of those utterances are also decoded one by one with it (``trained_demo``): the real
search cost that the peaky proxy stands for.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import torch

from asr2emo.lfmmi.decode import decode_one_best, load_hlg
from asr2emo.model.tdnnf import TdnnfModel, read_model_config
from asr2emo.model.trainer import supervision_segments

REPO = Path(__file__).resolve().parents[3]
DEMO_LANG = REPO / "data" / "lang"
DEMO_MODEL = REPO / "exp" / "tdnnf"
DEMO_CUTS = REPO / "data" / "mfcc" / "tedlium2_cuts_test_ivec.jsonl.gz"
UTT_SECONDS = 10.0
PEAK = 5.0  # nats a peaky frame's phone gets over the noise


def synthetic_lang(lang_dir: Path, num_phones: int = 39, num_words: int = 300, seed: int = 0):
    """A lang directory with HLG: random 3-6 phone words and 1000 random 5-20 word sentences."""
    from asr2emo.lang.prepare import prepare_lang_from_lexicon

    rng = random.Random(seed)
    phones = [f"P{i}" for i in range(num_phones)]
    lexicon = {
        f"W{i}": [[rng.choice(phones) for _ in range(rng.randint(3, 6))]] for i in range(num_words)
    }
    words = sorted(lexicon)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 20))) for _ in range(1000)]
    prepare_lang_from_lexicon(lexicon, texts, lang_dir, build_hlg=True)


def find_lang(tmp: Path) -> Tuple[Path, str]:
    if (DEMO_LANG / ".done").exists() and (DEMO_LANG / "HLG.pt").is_file():
        return DEMO_LANG, "demo data/lang"
    synthetic_lang(tmp / "lang")
    return tmp / "lang", "synthetic (no finished data/lang)"


def read_lexicon(lang_dir: Path) -> Tuple[Dict[str, List[int]], int]:
    """First pronunciation (phone ids) of every real word, and the number of network outputs."""
    phone_ids = {}
    for line in (lang_dir / "phones.txt").read_text().splitlines():
        sym, i = line.split()
        phone_ids[sym] = int(i)
    lex: Dict[str, List[int]] = {}
    for line in (lang_dir / "lexicon.txt").read_text().splitlines():
        word, *prons = line.split()
        if word.startswith("<") or word in lex:
            continue
        lex[word] = [phone_ids[p] for p in prons]
    return lex, phone_ids["#0"]


def peaky_log_probs(
    lexicon: Dict[str, List[int]], num_outputs: int, utts: int, frames: int, seed: int = 0
) -> torch.Tensor:
    """``(utts, frames, num_outputs)`` log-probs peaked on a random sentence's phones."""
    rng = random.Random(seed)
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(utts, frames, num_outputs, generator=g)
    words = sorted(lexicon)
    for n in range(utts):
        t = 0
        while t < frames:
            for p in lexicon[rng.choice(words)]:
                for _ in range(rng.randint(2, 4)):
                    if t < frames:
                        logits[n, t, p] += PEAK
                        t += 1
                if t < frames:  # CTC blank between phones
                    logits[n, t, 0] += PEAK
                    t += 1
    return torch.log_softmax(logits, dim=-1)


def time_search(log_probs: torch.Tensor, HLG, reps: int, warm_up: bool) -> Tuple[float, int]:
    n, t, _ = log_probs.shape
    segs, order = supervision_segments(torch.full((n,), t))
    if warm_up:
        decode_one_best(log_probs, segs, HLG)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        hyps = decode_one_best(log_probs, segs, HLG)
        best = min(best, time.perf_counter() - t0)
    return best, sum(len(h) for h in hyps)


def measure(conf: Path, HLG, lexicon, num_outputs: int, seconds: float, reps: int) -> Dict:
    torch.manual_seed(0)
    model = TdnnfModel(read_model_config(conf), num_outputs).eval()
    utts = max(1, int(round(seconds / UTT_SECONDS)))
    frames = int(UTT_SECONDS * 100)
    feats = torch.randn(utts, frames, 40)
    ivecs = torch.randn(utts, frames // 10, model.config.ivector_dim)
    with torch.no_grad():
        model(feats[:1, :300], ivecs[:1, :30])  # warm-up
        fwd = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            flat, _ = model(feats, ivecs)
            fwd = min(fwd, time.perf_counter() - t0)
    audio = utts * UTT_SECONDS
    peaky = peaky_log_probs(lexicon, num_outputs, utts, flat.shape[1])
    peaky_s, words = time_search(peaky, HLG, reps, warm_up=True)
    # Slow and memory-hungry (~5 GB for the 6 utterances at once): one utterance, one run.
    flat_s, _ = time_search(flat[:1], HLG, 1, warm_up=False)
    return {
        "rtf": round((fwd + peaky_s) / audio, 4),
        "forward_rtf": round(fwd / audio, 4),
        "search_rtf": round(peaky_s / audio, 4),
        "search_rtf_flat": round(flat_s / UTT_SECONDS, 4),
        "rtf_flat": round(fwd / audio + flat_s / UTT_SECONDS, 4),
        "hyp_words": words,
    }


def measure_trained(lang_dir: Path, HLG, seconds: float) -> Dict | None:
    """Forward and search RTF of the demo run's model on its test cuts (None if absent)."""
    if lang_dir != DEMO_LANG or not (DEMO_MODEL / "final.pt").is_file() or not DEMO_CUTS.is_file():
        return None
    from lhotse import CutSet

    from asr2emo.model import load_model

    model = load_model(DEMO_MODEL)
    cuts = []
    for c in CutSet.from_file(DEMO_CUTS):
        if sum(x.duration for x in cuts) >= seconds:
            break
        cuts.append(c)
    inputs = [
        (
            torch.from_numpy(c.load_features())[None],
            torch.from_numpy(c.load_custom("ivector"))[None],
        )
        for c in cuts
    ]
    fwd = search = 0.0
    words = 0
    with torch.no_grad():
        model(*inputs[0])  # warm-up
        for feats, ivecs in inputs:
            t0 = time.perf_counter()
            lp, _ = model(feats, ivecs)
            t1 = time.perf_counter()
            segs, _ = supervision_segments(torch.tensor([lp.shape[1]]))
            words += len(decode_one_best(lp, segs, HLG)[0])
            fwd, search = fwd + t1 - t0, search + time.perf_counter() - t1
    audio = sum(c.duration for c in cuts)
    return {
        "rtf": round((fwd + search) / audio, 4),
        "forward_rtf": round(fwd / audio, 4),
        "search_rtf": round(search / audio, 4),
        "audio_s": round(audio, 1),
        "utterances": len(cuts),
        "hyp_words": words,
    }


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    seconds = 20.0 if quick else 60.0
    reps = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        lang_dir, lang_kind = find_lang(Path(tmp))
        HLG = load_hlg(lang_dir)
        lexicon, num_outputs = read_lexicon(lang_dir)
        paper = measure(REPO / "conf" / "tdnnf.conf", HLG, lexicon, num_outputs, seconds, reps)
        demo = measure(
            REPO / "conf" / "mini" / "tdnnf.conf", HLG, lexicon, num_outputs, seconds, reps
        )
        trained = measure_trained(lang_dir, HLG, seconds)
    return {
        "figure": paper["rtf"],
        "unit": "decode RTF, paper size: forward + HLG search",
        "paper": paper,
        "demo": demo,
        "trained_demo": trained if trained is not None else "no demo model/test cuts: skipped",
        "audio_s": seconds,
        "lang": f"{lang_kind}: {len(lexicon)} words, HLG {HLG.num_arcs} arcs",
        "timing": f"best of {reps} (flat: 1 run), 1 thread; figure: search on peaky log-probs",
    }
