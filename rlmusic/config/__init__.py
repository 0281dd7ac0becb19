"""Settings: one dataclass per stage (``sections``, ``ppo``), YAML and command-line overrides
(``load``), and the flags of the stages without a YAML section (``commands``, ``flags``)."""
