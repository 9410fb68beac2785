"""Stage 1: lexicon, phone set, k2 lexicon FSTs, phone LM P (LF-MMI denominator), word G, HLG."""

from asr2emo.lang.prepare import prepare_lang_from_lexicon, read_lang_info

__all__ = ["prepare_lang_from_lexicon", "read_lang_info"]
