"""The networks: the policy contract and sampling, checkpoints, the discriminator (the reward)
and the independent judge (the yardstick)."""
