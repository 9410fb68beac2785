"""Acoustic features: Kaldi hires MFCC (kaldi-native-fbank as a lhotse extractor) and global CMVN."""
