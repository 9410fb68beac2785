"""Fine-tuning the top TDNN-F layers with the emotion head, on stage 8's folds."""
