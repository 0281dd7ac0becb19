import json

from rlmusic.tracking import RunLogger, read_metrics


def test_metrics_jsonl_always_written(tmp_path):
    log = RunLogger(tmp_path, "none")
    log.log(1, {"loss/train": 2.5, "val/bits_per_note": float("nan")})
    log.log(2, {"loss/train": 2.0})
    log.close()
    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2] and rows[0]["val/bits_per_note"] is None
    assert all(json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines())


def test_tensorboard_writes_event_files(tmp_path):
    log = RunLogger(tmp_path, "tensorboard")
    log.log(1, {"loss/train": 2.5})
    log.close()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    (scalar,) = events.Scalars("loss/train")
    assert (scalar.step, scalar.value) == (1, 2.5)


def test_wandb_runs_offline_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    log = RunLogger(tmp_path, "wandb", config={"a": 1})
    log.log(1, {"loss/train": 2.5})
    log.close()
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    (data,) = run.glob("run-*.wandb")
    assert b"loss/train" in data.read_bytes()  # the logged metric is in the offline run, ready to sync
