#!/usr/bin/env python3
"""Synthesize the demo corpora in the real TED-LIUM release 2 / IEMOCAP on-disk layouts.

Writes OUT_DIR/TEDLIUM_release2/ and/or OUT_DIR/IEMOCAP_full_release/ (espeak-ng voices, sox
effects; see asr2emo.data.demo). Seeded and deterministic; a corpus whose .done marker records
the same parameters is not regenerated.

    python local/make_demo_corpora.py --config conf/mini/demo.conf --corpora tedlium,iemocap \\
        data/corpora
"""

from __future__ import annotations

import sys

from asr2emo.data.demo import SIZES, make_demo_corpora
from asr2emo.utils.config import ConfArgumentParser, str_list
from asr2emo.utils.errors import UserError
from asr2emo.utils.logging import setup_logging


def get_parser() -> ConfArgumentParser:
    parser = ConfArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="directory that receives the corpus directories")
    parser.add_argument(
        "--corpora", type=str_list, default=["tedlium", "iemocap"], help="tedlium,iemocap"
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="demo", help="scale preset")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    parser.add_argument("--nj", type=int, default=2, help="parallel rendering processes")
    knobs = parser.add_argument_group("scale knobs (default: the --size preset)")
    knobs.add_argument("--train-talks", type=int, help="TED-LIUM train talks (one voice each)")
    knobs.add_argument("--train-talk-seconds", type=float, help="speech per train talk")
    knobs.add_argument("--eval-talks", type=int, help="TED-LIUM dev and test talks each")
    knobs.add_argument("--eval-talk-seconds", type=float, help="speech per dev/test talk")
    knobs.add_argument(
        "--iemocap-kept-per-speaker", type=int, help="ang/exc/neu/sad utterances per speaker"
    )
    knobs.add_argument(
        "--iemocap-drop-fraction", type=float, help="fraction of lines with labels to drop"
    )
    knobs.add_argument("--iemocap-dialog-size", type=int, help="turns per dialog (about)")
    knobs.add_argument(
        "--emotion-strength",
        type=float,
        help="scale of the prosodic emotion effects (higher = easier task)",
    )
    return parser


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging()
    knobs = (
        "train_talks",
        "train_talk_seconds",
        "eval_talks",
        "eval_talk_seconds",
        "iemocap_kept_per_speaker",
        "iemocap_drop_fraction",
        "iemocap_dialog_size",
        "emotion_strength",
    )
    try:
        make_demo_corpora(
            args.out_dir,
            corpora=args.corpora,
            size=args.size,
            seed=args.seed,
            nj=args.nj,
            **{k: getattr(args, k) for k in knobs},
        )
    except UserError as e:
        print(f"make_demo_corpora.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
