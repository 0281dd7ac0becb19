"""rlmusic: MLE pretraining and PPO fine-tuning of symbolic-music language models."""

__version__ = "0.1.0"
