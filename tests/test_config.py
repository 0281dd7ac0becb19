import json
from pathlib import Path

import pytest

from rlmusic.config.load import config_from_dict, load_config, merge_overrides, parse_overrides
from rlmusic.config.sections import RunConfig
from rlmusic.errors import RLMusicError

CONFIGS = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_load_and_round_trip_through_json(path):
    cfg = load_config(path)
    again = config_from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_shipped_configs_are_the_sizes_the_readme_names():
    sizes = {p.stem: load_config(p).model for p in CONFIGS}
    assert (sizes["tiny"].n_layer, sizes["tiny"].n_embd, sizes["tiny"].block_size) == (4, 128, 256)
    assert (sizes["small"].n_embd, sizes["small"].block_size) == (256, 512)
    assert (sizes["base"].n_layer, sizes["base"].n_embd, sizes["base"].block_size) == (8, 512, 1024)
    assert sizes["lstm"].policy == "lstm"


def test_overrides_are_typed_from_yaml():
    cfg = load_config(None, ["pretrain.lr=1e-3", "model.n_layer=2", "pretrain.report_to=wandb", "data.data=/x"])
    assert cfg.pretrain.lr == 1e-3 and isinstance(cfg.pretrain.lr, float)
    assert cfg.model.n_layer == 2 and cfg.pretrain.report_to == "wandb" and cfg.data.data == "/x"


def test_booleans_are_true_and_false_only(tmp_path):
    """accelerate's precision "no" is a string (YAML 1.1 would read no/yes/on/off as booleans),
    on the command line and in a file; true/false still set a bool, and "yes" for one is an error."""
    cfg = load_config(None, ["ppo.mixed_precision=no", "ppo.adaptive_kl=false", "ppo.whiten_advantages=True"])
    assert cfg.ppo.mixed_precision == "no" and cfg.ppo.adaptive_kl is False and cfg.ppo.whiten_advantages is True
    p = tmp_path / "c.yaml"
    p.write_text("pretrain:\n  mixed_precision: no\nppo:\n  eos_expected: TRUE\n")
    cfg = load_config(p)
    assert cfg.pretrain.mixed_precision == "no" and cfg.ppo.eos_expected is True
    with pytest.raises(RLMusicError, match="ppo.adaptive_kl: expected bool, got 'yes'"):
        load_config(None, ["ppo.adaptive_kl=yes"])


def test_parse_overrides_nests():
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}


def test_typed_overrides_from_python_merge_with_command_line_words():
    # what a stage called from Python (the demo) passes: values as they are, no text round trip
    merged = merge_overrides(["ppo.lr=1e-4", "ppo.updates=3"], {"ppo": {"lr": 2e-5, "seed": 7}}, None)
    assert merged == {"ppo": {"lr": 2e-5, "updates": 3, "seed": 7}}
    cfg = load_config(None, merged)
    assert (cfg.ppo.lr, cfg.ppo.updates, cfg.ppo.seed) == (2e-5, 3, 7)
    with pytest.raises(RLMusicError, match="ppo.updates: expected int"):
        load_config(None, {"ppo": {"updates": "many"}})


def test_sampling_is_not_a_config_section(tmp_path):
    # sampling is set by the generate and metrics flags alone; a checkpoint written when a
    # ``sample:`` section existed (the shipped ones) still loads
    p = tmp_path / "c.yaml"
    p.write_text("sample:\n  top_k: 20\n")
    with pytest.raises(RLMusicError, match="unknown config key 'sample'"):
        load_config(p)
    old = RunConfig().to_dict() | {"sample": {"top_k": 20, "max_new_tokens": 255}}
    assert config_from_dict(old).to_dict() == RunConfig().to_dict()


@pytest.mark.parametrize("override, message", [
    ("pretrain.nope=1", "unknown config key 'pretrain.nope'"),
    ("nosection.x=1", "unknown config key 'nosection'"),
    ("model.n_layer=two", "model.n_layer: expected int"),
    ("pretrain.batch_size=0", "pretrain.batch_size must be positive"),
    ("pretrain.lr=-1", "pretrain.lr must be positive"),
    ("model.n_embd=130", "divisible by model.n_head"),
    ("tokenizer.kind=ABC", "tokenizer.kind must be REMI or TSD"),
    ("model.n_layer", "must look like section.key=value"),
    ("clf.balance=style", "clf.balance must be 'piece' or 'family'"),
    ("clf.augment_drop_notes=1", "clf.augment_drop_notes must be in"),
    ("clf.scrambled_copies=0", "clf.scrambled_copies must be positive"),
    ("clf.generated_share=0.3", "clf.generated_share must be in"),
    ("ppo.min_new_tokens=129", "must not exceed ppo.max_new_tokens"),
    ("ppo.min_new_tokens=-1", "ppo.min_new_tokens must be"),
    ("ppo.band_low=0.96", "ppo.band_low and ppo.band_high must be quantiles"),
])
def test_bad_values_are_one_line_errors_naming_the_key(override, message):
    with pytest.raises(RLMusicError, match=message.replace("(", r"\(")) as e:
        load_config(None, [override])
    assert "\n" not in str(e.value)


def test_unknown_key_in_yaml_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model:\n  n_layers: 3\n")
    with pytest.raises(RLMusicError, match="unknown config key 'model.n_layers'"):
        load_config(p)


def test_defaults_validate_and_every_field_is_documented():
    import dataclasses

    import rlmusic.config.commands as options_module
    import rlmusic.config.sections as config_module
    from rlmusic.config.flags import field_docs

    RunConfig().validate()  # raises on an invalid default
    classes = [c for m in (config_module, options_module) for c in vars(m).values()
               if dataclasses.is_dataclass(c) and c.__module__ == m.__name__]
    assert len(classes) >= 10
    undocumented = [f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c)
                    if not field_docs(c).get(f.name)]
    assert not undocumented, undocumented
    assert {f.name for f in dataclasses.fields(RunConfig)} >= {"tokenizer", "data", "model", "pretrain", "ppo", "clf"}


def test_flags_come_from_the_documented_fields():
    import argparse
    from dataclasses import dataclass, field

    from rlmusic.config.flags import add_flags, field_docs, from_flags

    @dataclass
    class Opts:
        depth: int | None = None
        """How deep (None: all the way)."""
        name: str = "x"
        """A name."""
        tags: list[str] = field(default_factory=list)
        """Tags, repeatable."""
        quiet: bool = False
        """Say less."""

    assert field_docs(Opts) == {"depth": "How deep (None: all the way).", "name": "A name.",
                                "tags": "Tags, repeatable.", "quiet": "Say less."}
    parser = argparse.ArgumentParser()
    add_flags(parser, Opts, name="y")
    args = parser.parse_args(["--depth", "3", "--tags", "a", "--tags", "b", "--quiet"])
    assert from_flags(Opts, args) == Opts(depth=3, name="y", tags=["a", "b"], quiet=True)
    assert from_flags(Opts, parser.parse_args([]), name="z") == Opts(name="z")
    assert "A name. (default: y)" in parser.format_help().replace("\n", " ").replace("  ", " ")
    with pytest.raises(SystemExit):
        parser.parse_args(["--depth", "deep"])


@pytest.mark.parametrize("stage, sections", [("finetune", ("ppo", "clf", "data")), ("pretrain", ("pretrain", "model")),
                                             ("train-clf", ("clf",))])
def test_help_shows_every_setting_of_the_stage_with_its_documentation(stage, sections, capsys):
    import dataclasses

    from rlmusic.cli import main
    from rlmusic.config.flags import field_docs
    from rlmusic.config.sections import RunConfig

    with pytest.raises(SystemExit):
        main([stage, "--help"])
    out = capsys.readouterr().out
    for section in sections:
        cls = type(getattr(RunConfig(), section))
        docs = field_docs(cls)
        for f in dataclasses.fields(cls):
            assert f"  {section}.{f.name}=" in out, f"{section}.{f.name}"
            assert docs[f.name].split()[0] in out
