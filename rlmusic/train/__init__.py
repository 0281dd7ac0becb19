"""Every stage that changes weights: pretraining, PPO and its co-evolving discriminator, the
discriminator and judge trainers, and TRL's GRPO/RLOO."""
