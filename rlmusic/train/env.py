"""``MusicEnv``: the rewards as a gymnasium environment, so other RL libraries can train against them.

An episode writes one piece token by token. Actions are token ids (``Discrete(vocab)``);
the observation is the last ``window`` ids (left-padded with PAD); the episode terminates on
EOS and is truncated at ``max_length`` tokens. The weighted reward arrives at the end, with
the per-reward breakdown in ``info["rewards"]``; every other step pays 0.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlmusic.data.tokens import special_ids
from rlmusic.reward_contract import RewardBatch, WeightedReward


class MusicEnv(gym.Env):
    metadata = {"render_modes": ["ansi"]}

    def __init__(self, tokenizer, reward_fn: WeightedReward, max_length: int = 256, window: int = 64,
                 prompt: list[int] | None = None, render_mode: str | None = None):
        super().__init__()
        self.tokenizer = tokenizer
        self.reward_fn = reward_fn
        self.max_length = max_length
        self.window = window
        self.special = special_ids(tokenizer)
        self.prompt = list(prompt) if prompt else [self.special["bos"]]
        self.render_mode = render_mode
        self.action_space = spaces.Discrete(len(tokenizer))
        self.observation_space = spaces.Box(0, len(tokenizer) - 1, shape=(window,), dtype=np.int64)
        self.generated: list[int] = []

    def _obs(self) -> np.ndarray:
        seq = (self.prompt + self.generated)[-self.window :]
        obs = np.full(self.window, self.special["pad"], dtype=np.int64)
        obs[self.window - len(seq) :] = seq
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.generated = []
        return self._obs(), {}

    def step(self, action):
        token = int(action)
        if not self.action_space.contains(token):
            raise ValueError(f"action {action!r} is not a token id in [0, {self.action_space.n})")
        terminated = token == self.special["eos"]
        if not terminated:
            self.generated.append(token)
        truncated = not terminated and len(self.generated) >= self.max_length
        reward, info = 0.0, {}
        if terminated or truncated:
            total, parts = self.reward_fn(RewardBatch([self.generated], self.tokenizer))
            reward = float(total[0])
            info = {"rewards": {k: float(v[0]) for k, v in parts.items()}, "length": len(self.generated)}
        return self._obs(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode == "ansi":
            return " ".join(self.tokenizer[i] for i in self.generated)
        return None
