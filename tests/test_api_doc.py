"""docs/api.md runs as written: every Python block, in order, in a fresh folder."""

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_every_block_of_the_api_page_runs(folk_dir, tmp_path, monkeypatch):
    from rewards import REWARDS

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert len(blocks) == 5
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(REWARDS, "stepwise", None)  # the page registers its own; restored afterwards
    scope = {"FOLDER_OF_REAL_MUSIC": str(folk_dir), "__name__": "api_doc"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), scope)  # noqa: S102 - the documentation's own code
    assert (tmp_path / "runs" / "mine" / "checkpoint-000004").is_dir()
    assert len(list((tmp_path / "samples").glob("*.mid"))) == 4
    summary = scope["summary"]
    assert summary["columns"] == ["my-model", "mine@4", "reference"]
    assert summary["metrics"]["mine@4"]["pieces"] == 8 and "chord_fit" in summary["metrics"]["mine@4"]
