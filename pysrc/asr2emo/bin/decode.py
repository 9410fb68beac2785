"""Stage 5: decode cuts with HLG (1-best), write hypotheses, per-utterance errors and the WER.

Reads a trained model directory (``asr2emo train-lfmmi``: ``final.pt``), a lang directory
(``HLG.pt``, ``words.txt``) and cuts with features and i-vectors; writes ``DECODE_DIR/hyp.txt``
(``cut_id<TAB>words``), ``errs.txt`` (per-utterance alignments), ``wer.txt`` (Kaldi's
``%WER x [ errors / words, i ins, d del, s sub ]``), ``decode.json`` (counts and real-time factor)
and ``.done`` last, recording the decoding options, the model checkpoint, the lang directory and
the cuts: a rerun with any of them changed decodes again.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from lhotse import CutSet

from asr2emo.lang.prepare import read_lang_info
from asr2emo.lfmmi.batch_decode import DecodeOptions, decode_cuts
from asr2emo.lfmmi.decode import alignment_lines, compute_wer, format_wer
from asr2emo.utils.config import ConfArgumentParser, positive_int, str2bool
from asr2emo.utils.devices import add_device_args, setup_device
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path
from asr2emo.utils.logging import setup_logging
from asr2emo.utils.markers import config_of, make_record, needs_run, write_marker


def get_parser() -> ConfArgumentParser:
    p = ConfArgumentParser(description=__doc__.splitlines()[0])
    add_device_args(p)
    p.add_argument("--search-beam", type=float, default=20.0, help="intersect_dense_pruned beam")
    p.add_argument("--output-beam", type=float, default=8.0, help="lattice beam")
    p.add_argument(
        "--acoustic-scale",
        type=float,
        default=1.0,
        help="scale of the network log-probabilities in the search (1 / LM weight)",
    )
    p.add_argument("--min-active-states", type=int, default=30)
    p.add_argument("--max-active-states", type=int, default=10000)
    p.add_argument("--max-duration", type=float, default=100.0, help="seconds of audio per batch")
    p.add_argument(
        "--require-ivectors",
        type=str2bool,
        default=True,
        help="false: cuts without i-vectors get zeros (tests only)",
    )
    p.add_argument("--log-file", default=None, help="also log to this file")
    p.add_argument("--nj", type=positive_int, default=1, help="parallel decoding jobs")
    p.add_argument(
        "--cmd", default="", help="job runner of the --nj jobs (utils/run.pl, utils/slurm.pl ...)"
    )
    p.add_argument("model_dir", type=Path, help="model directory (final.pt) or checkpoint")
    p.add_argument("lang_dir", type=Path, help="lang directory with HLG.pt")
    p.add_argument("cuts", type=Path, help="cuts with features (and i-vectors)")
    p.add_argument("decode_dir", type=Path, help="output directory")
    return p


def main(args) -> int:
    setup_logging(args.log_file)
    if args.acoustic_scale <= 0:
        raise UserError(f"--acoustic-scale must be > 0, got {args.acoustic_scale}")
    from asr2emo.model import load_model, resolve_checkpoint

    if not args.cuts.is_file():
        raise UserError(f"cuts '{args.cuts}' do not exist")
    checkpoint = resolve_checkpoint(args.model_dir)
    record = make_record(
        "decode",
        config_of(args, exclude=("model_dir", "lang_dir", "cuts", "decode_dir")),
        {"model": checkpoint, "lang": args.lang_dir, "cuts": args.cuts},
    )
    if not needs_run(args.decode_dir, record, f"decoding {args.decode_dir}"):
        return 0
    device = setup_device(args)
    info = read_lang_info(args.lang_dir)
    if not (args.lang_dir / "HLG.pt").is_file():
        raise UserError(f"{args.lang_dir} has no HLG.pt (built with --build-hlg=false?)")
    model = load_model(checkpoint)  # once: one job decodes with it, parallel jobs load their own
    if int(model.info["num_outputs"]) != int(info["num_outputs"]):
        raise UserError(
            f"model has {model.info['num_outputs']} outputs but {args.lang_dir} has "
            f"{info['num_outputs']}: model and lang directory do not match"
        )
    opts = DecodeOptions(
        search_beam=args.search_beam,
        output_beam=args.output_beam,
        min_active_states=args.min_active_states,
        max_active_states=args.max_active_states,
        acoustic_scale=args.acoustic_scale,
        max_duration=args.max_duration,
        require_ivectors=args.require_ivectors,
    )
    logging.info(f"acoustic model: {checkpoint}; {args.nj} job(s)")
    t0 = time.time()
    cuts = CutSet.from_file(args.cuts)
    hyps, refs, audio_sec = decode_cuts(
        model, args.lang_dir, cuts, opts, str(device), args.nj, args.cmd or None,
        args.decode_dir, args.num_threads,
    )  # fmt: skip
    elapsed = time.time() - t0
    ids = sorted(hyps)
    stats = compute_wer([refs[i] for i in ids], [hyps[i] for i in ids])
    stats["rtf"] = elapsed / max(audio_sec, 1e-9)
    stats["audio_seconds"] = audio_sec
    write_results(args.decode_dir, ids, refs, hyps, stats)
    logging.info(f"{format_wer(stats)} ({len(ids)} utterances, RTF {stats['rtf']:.3f})")
    write_marker(args.decode_dir, record)
    return 0


def write_results(decode_dir: Path, ids, refs, hyps, stats) -> None:
    decode_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(decode_dir / "hyp.txt") as tmp:
        tmp.write_text("".join(f"{i}\t{' '.join(hyps[i])}\n" for i in ids))
    with atomic_path(decode_dir / "errs.txt") as tmp:
        lines = [format_wer(stats), ""]
        for i in ids:
            lines += alignment_lines(i, refs[i], hyps[i]) + [""]
        tmp.write_text("\n".join(lines))
    with atomic_path(decode_dir / "decode.json") as tmp:
        tmp.write_text(json.dumps(stats, indent=2) + "\n")
    with atomic_path(decode_dir / "wer.txt") as tmp:
        tmp.write_text(format_wer(stats) + "\n")
