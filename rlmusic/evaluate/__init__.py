"""Sampling, measuring and listening: ``rlmusic generate`` and ``rlmusic metrics``, distances,
copy detection, audio, piano rolls and the before/after report."""
