"""Acoustic features: Kaldi hires MFCC (kaldi-native-fbank in lhotse) and global CMVN."""
