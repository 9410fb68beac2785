"""Transcribe wav files with a trained TDNN-F and its lang directory's HLG: prints path<TAB>text.

Each file: hires MFCC (kaldi-native-fbank, resampled to 16 kHz when needed), online i-vectors with
the extractor recorded in the model (``model.info["ivector"]["extractor_dir"]`` or
``--ivector-extractor``), the network, then 1-best HLG decoding as in stage 5.
"""

from __future__ import annotations

import logging
from pathlib import Path

import soundfile as sf
import torch

from asr2emo.lang.prepare import read_lang_info
from asr2emo.lfmmi.decode import decode_one_best, load_hlg
from asr2emo.utils.config import ConfArgumentParser
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--lang-dir", default=None, help="default: the model's lang directory")
    p.add_argument("--ivector-extractor", default=None, help="default: the model's extractor")
    p.add_argument("--search-beam", type=float, default=20.0)
    p.add_argument("--output-beam", type=float, default=8.0)
    p.add_argument("model_dir", type=Path, help="model directory (final.pt) or checkpoint")
    p.add_argument("wavs", nargs="+", type=Path, help="audio files")
    return p


def main(args) -> int:
    setup_logging(level=logging.WARNING)
    from asr2emo.features.mfcc import compute_mfcc
    from asr2emo.ivector import IvectorExtractor
    from asr2emo.model import load_model

    device = torch.device(args.device)
    model = load_model(args.model_dir, device)
    lang_dir = Path(args.lang_dir or model.info.get("lang_dir", ""))
    info = read_lang_info(lang_dir)
    if int(info["num_outputs"]) != int(model.info["num_outputs"]):
        raise UserError(f"model and lang directory '{lang_dir}' do not match (num_outputs)")
    HLG = load_hlg(lang_dir, device)
    iv_info = model.info.get("ivector", {})
    iv_dir = args.ivector_extractor or iv_info.get("extractor_dir", "")
    if int(iv_info.get("dim", 0)) > 0 and not iv_dir:
        raise UserError(
            "the model uses i-vectors: give --ivector-extractor (stage-3 extractor dir)"
        )
    extractor = IvectorExtractor.load(iv_dir) if iv_dir else None
    for wav in args.wavs:
        try:
            samples, sr = sf.read(str(wav), dtype="float32", always_2d=True)
        except Exception as e:  # noqa: BLE001 - any unreadable file is reported and skipped
            logging.error(f"{wav}: cannot read audio ({e}); skipped")
            continue
        feats = compute_mfcc(samples[:, 0], sr)
        if extractor is not None:
            ivecs = extractor.extract_online(feats)
        else:
            ivecs = torch.zeros(1, int(iv_info.get("dim", 0))).numpy()
        with torch.no_grad():
            log_probs, out_lens = model(
                torch.from_numpy(feats)[None].to(device), torch.from_numpy(ivecs)[None].to(device)
            )
        segs = torch.tensor([[0, 0, int(out_lens[0])]], dtype=torch.int32)
        words = decode_one_best(
            log_probs, segs, HLG, search_beam=args.search_beam, output_beam=args.output_beam
        )[0]
        print(f"{wav}\t{' '.join(words)}", flush=True)
    return 0
