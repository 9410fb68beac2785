"""Benchmark: TDNN-F LF-MMI training throughput (input frames/s), 1 and 2 processes, 1 thread.

Paper size (conf/tdnnf.conf) and demo size (conf/mini/tdnnf.conf), full training steps (forward,
LF-MMI loss of asr2emo.lfmmi with numerator and denominator, backward, Adam). The lang is a
seeded synthetic one of TED-LIUM-like size (39 phones, 200 words, phone bigram P); inputs are
seeded random features: the cost does not depend on their values. Batch per process: 8
utterances of 10 s. Two processes: DistributedDataParallel over gloo on CPU, as
``train-lfmmi`` under torchrun; each process times the same number of steps after a warm-up step
(gradients all-reduced every step); aggregate frames/s = both processes' frames / the slower
one's time. On a 2-core machine 2 processes give at most 2x.
"""

from __future__ import annotations

import json
import os
import random
import socket
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
    conf: Path,
    lang_dir: Path,
    texts,
    steps: int,
    utts: int = 8,
    frames: int = 1000,
    distributed: bool = False,
) -> Dict:
    torch.manual_seed(0)
    loss_fn = LfMmiLoss(MmiGraphCompiler(lang_dir))
    model = TdnnfModel(read_model_config(conf), loss_fn.graph_compiler.num_outputs).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    net = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    feats = torch.randn(utts, frames, 40)
    ivecs = torch.randn(utts, frames // 10, model.config.ivector_dim)
    lens = torch.full((utts,), frames)
    batch_texts = [" ".join(texts[i].split()[:12]) for i in range(utts)]

    def step():
        log_probs, out_lens = net(feats, ivecs, lens)
        segs, order = supervision_segments(out_lens)
        loss, info = loss_fn(log_probs, segs, [batch_texts[i] for i in order.tolist()])
        opt.zero_grad()
        (loss / info["frames"]).backward()
        opt.step()

    step()  # warm-up
    if distributed:
        torch.distributed.barrier()
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


def _ddp_worker(rank: int, world: int, port: int, conf: str, lang: str, steps: int, out: str):
    """One process of the 2-process run (torch.multiprocessing.spawn target)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    texts = (Path(lang) / "texts.txt").read_text().splitlines()
    r = measure(Path(conf), Path(lang), texts, steps, distributed=True)
    Path(out, f"rank{rank}.json").write_text(json.dumps(r))
    dist.barrier()
    dist.destroy_process_group()


def measure_ddp(conf: Path, lang_dir: Path, steps: int, world: int = 2) -> Dict:
    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(
            _ddp_worker,
            args=(world, port, str(conf), str(lang_dir), steps, out),
            nprocs=world,
            join=True,
        )
        ranks = [json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(world)]
    per_proc = min(r["frames_per_s"] for r in ranks)
    return {
        "frames_per_s": round(world * per_proc, 1),
        "per_process_frames_per_s": [r["frames_per_s"] for r in ranks],
        # Per CPU second: lower than 1 process's only by the all-reduce work, not by waiting
        # for a core that another job holds.
        "per_process_frames_per_cpu_s": [r["frames_per_cpu_s"] for r in ranks],
        "s_per_batch": max(r["s_per_batch"] for r in ranks),
    }


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    paper_conf, demo_conf = REPO / "conf" / "tdnnf.conf", REPO / "conf" / "mini" / "tdnnf.conf"
    paper_steps, demo_steps = (1, 2) if quick else (3, 6)
    with tempfile.TemporaryDirectory() as tmp:
        lang = Path(tmp) / "lang"
        texts = synthetic_lang(lang)
        (lang / "texts.txt").write_text("\n".join(texts) + "\n")
        paper = measure(paper_conf, lang, texts, steps=paper_steps)
        demo = measure(demo_conf, lang, texts, steps=demo_steps)
        paper2 = measure_ddp(paper_conf, lang, paper_steps)
        demo2 = measure_ddp(demo_conf, lang, demo_steps)
    for one, two in ((paper, paper2), (demo, demo2)):
        two["speedup"] = round(two["frames_per_s"] / one["frames_per_s"], 2)
    return {
        "figure": paper["frames_per_s"],
        "unit": "train frames/s, paper size, 1 process",
        "paper_1proc": paper,
        "paper_2proc": paper2,
        "demo_1proc": demo,
        "demo_2proc": demo2,
        "batch": "8 x 10 s utterances per process; 100 input frames = 1 s",
        "threads_per_process": 1,
    }
