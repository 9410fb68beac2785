"""Benchmark: TDNN-F LF-MMI training throughput (input frames/s, 1 process, 1 thread).

Paper size (conf/tdnnf.conf) and demo size (conf/mini/tdnnf.conf), full training steps (forward,
LF-MMI loss of asr2emo.lfmmi with numerator and denominator, backward, Adam). The lang is a
seeded synthetic one of TED-LIUM-like size (39 phones, 200 words, phone bigram P); inputs are
seeded random features: the cost does not depend on their values. Batch: 8 utterances of 10 s.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Dict

import torch

from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.loss import LfMmiLoss
from asr2emo.model.tdnnf import TdnnfModel, read_model_config
from asr2emo.model.trainer import supervision_segments

REPO = Path(__file__).resolve().parents[3]


def synthetic_lang(lang_dir: Path, num_phones: int = 39, num_words: int = 200, seed: int = 0):
    """A lang directory with random 3-6 phone words and 500 random 10-20 word sentences."""
    from asr2emo.lang.prepare import prepare_lang_from_lexicon

    rng = random.Random(seed)
    phones = [f"P{i}" for i in range(num_phones)]
    lexicon = {
        f"W{i}": [[rng.choice(phones) for _ in range(rng.randint(3, 6))]] for i in range(num_words)
    }
    words = sorted(lexicon)
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(10, 20))) for _ in range(500)]
    prepare_lang_from_lexicon(lexicon, texts, lang_dir, build_hlg=False)
    return texts


def measure(
    conf: Path, lang_dir: Path, texts, steps: int, utts: int = 8, frames: int = 1000
) -> Dict:
    torch.manual_seed(0)
    loss_fn = LfMmiLoss(MmiGraphCompiler(lang_dir))
    model = TdnnfModel(read_model_config(conf), loss_fn.graph_compiler.num_outputs).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    feats = torch.randn(utts, frames, 40)
    ivecs = torch.randn(utts, frames // 10, model.config.ivector_dim)
    lens = torch.full((utts,), frames)
    batch_texts = [" ".join(texts[i].split()[:12]) for i in range(utts)]

    def step():
        log_probs, out_lens = model(feats, ivecs, lens)
        segs, order = supervision_segments(out_lens)
        loss, info = loss_fn(log_probs, segs, [batch_texts[i] for i in order.tolist()])
        opt.zero_grad()
        (loss / info["frames"]).backward()
        opt.step()

    step()  # warm-up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "params": model.num_params(),
        "frames_per_s": round(steps * utts * frames / elapsed, 1),
        # CPU time of this process: the figure without other jobs on a shared machine.
        "frames_per_cpu_s": round(steps * utts * frames / cpu, 1),
        "s_per_batch": round(elapsed / steps, 3),
    }


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        lang = Path(tmp) / "lang"
        texts = synthetic_lang(lang)
        paper = measure(REPO / "conf" / "tdnnf.conf", lang, texts, steps=1 if quick else 3)
        demo = measure(REPO / "conf" / "mini" / "tdnnf.conf", lang, texts, steps=2 if quick else 6)
    return {
        "figure": paper["frames_per_s"],
        "unit": "training input frames/s at paper size (1 process, 1 thread; 100 frames = 1 s)",
        "paper": paper,
        "demo": demo,
        "batch": "8 x 10 s utterances",
    }
