"""``python -m asr2emo <verb>`` == ``asr2emo <verb>``."""

from asr2emo.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
