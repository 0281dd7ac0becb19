"""report.html opened in a real browser (headless Chromium): every image and audio player loads."""

import re
import shutil
import subprocess

import pytest

from rlmusic.data.midi_io import find_midi_files, load_score, write_score
from rlmusic.evaluate.html_report import write_html
from rlmusic.evaluate.metrics_command import Column, summarise
from rlmusic.evaluate.report import audio_available, piano_roll_png, render_wav
from rlmusic.music.piece import piece_from_score

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--allow-file-access-from-files"]


@pytest.mark.skipif(CHROMIUM is None or bool(audio_available()),
                    reason="needs Debian's chromium, fluidsynth and fluid-soundfont-gm (scripts/setup.sh installs them)")
def test_report_page_loads_every_image_and_player_in_chromium(folk_dir, tmp_path):
    out = tmp_path / "report"
    samples = {}
    for tag, files in (("before", find_midi_files(folk_dir)[:2]), ("after", find_midi_files(folk_dir)[2:4])):
        midis = [write_score(load_score(f), out / "samples" / tag / f.name) for f in files]
        pngs = [piano_roll_png(piece_from_score(load_score(m)), m.with_suffix(".png"), m.name) for m in midis]
        wavs = [render_wav(m, m.with_suffix(".wav")) for m in midis]
        samples[tag] = {"midi": midis, "png": pngs, "wav": wavs}
    pieces = [piece_from_score(load_score(f)) for f in find_midi_files(folk_dir)[:12]]
    summary = summarise([Column("after", pieces[:6])], Column("real", pieces[6:]))
    page = write_html(out, "test report", "four folk tunes", summary, samples, curves=samples["before"]["png"][0])
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1200,2400",
                    "--virtual-time-budget=5000", page.as_uri()], capture_output=True, timeout=120)
    images = re.findall(r"<img [^>]*>", dom)
    players = re.findall(r"<audio [^>]*>", dom)
    assert len(images) == 5 and len(players) == 4  # 4 piano rolls and the curves; 4 players
    assert all('data-loaded="yes"' in i for i in images), images
    durations = [float(re.search(r'data-duration="([0-9.]+)"', p).group(1)) for p in players]
    assert all('data-loaded="yes"' in p for p in players) and min(durations) > 1.0, players
    assert "classifier two-sample AUC" in dom and shot.stat().st_size > 10_000
