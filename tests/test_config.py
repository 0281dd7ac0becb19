import json
from pathlib import Path

import pytest

from rlmusic.config import RunConfig
from rlmusic.config_load import config_from_dict, load_config, parse_overrides
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


def test_parse_overrides_nests():
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}


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
    import ast
    import dataclasses

    import rlmusic.config as config_module

    RunConfig().validate()  # raises on an invalid default
    tree = ast.parse(Path(config_module.__file__).read_text())
    undocumented = []
    for node in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name.endswith("Config")):
        body = node.body
        for i, item in enumerate(body):
            if isinstance(item, ast.AnnAssign):
                doc = body[i + 1] if i + 1 < len(body) else None
                if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
                        and isinstance(doc.value.value, str)):
                    undocumented.append(f"{node.name}.{item.target.id}")
    assert not undocumented, undocumented
    assert {f.name for f in dataclasses.fields(RunConfig)} >= {"tokenizer", "data", "model", "pretrain", "ppo", "clf"}
