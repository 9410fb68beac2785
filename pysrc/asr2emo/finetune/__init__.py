"""Fine-tuning the top TDNN-F layers with the emotion head (issue 7), on stage 8's folds."""
