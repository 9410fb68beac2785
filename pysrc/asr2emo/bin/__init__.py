"""Command-line verbs of ``asr2emo``; one module per verb (see :mod:`asr2emo.cli`)."""
