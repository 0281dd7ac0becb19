"""``report.html``: one page to open in a browser: listen before and after, see and compare.

The page is self-contained but for the audio: every image (piano rolls, curves, distribution
plots) is embedded as a data URI, and each ``<audio>`` player points at its WAV beside the page
(a minute of 44.1 kHz stereo is 10 MB; embedding it would make the page unwieldy). A small
script records, on each image and player, whether it loaded (``data-loaded``) and the audio's
duration, so a headless browser can check the page (``tests/test_html_report.py``).
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

_CHECK = """
<script>
function mark(el, ok, extra) { el.dataset.loaded = ok ? "yes" : "no"; if (extra) el.dataset.duration = extra; }
window.addEventListener("load", () => {
  document.querySelectorAll("img").forEach(i => mark(i, i.complete && i.naturalWidth > 0));
});
document.querySelectorAll("audio").forEach(a => {
  a.addEventListener("loadedmetadata", () => mark(a, a.duration > 0, a.duration.toFixed(3)));
  a.addEventListener("error", () => mark(a, false));
  a.load();
});
</script>
"""
_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { padding: 2px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) { background: #f4f4f4; }
.alarm { color: #a00; } .pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
figure { margin: 0.5em 0; } figcaption { font-size: 0.85em; color: #555; } img { max-width: 100%; }
.plots { display: grid; grid-template-columns: repeat(3, 1fr); gap: 0.5em; }
"""


def _img(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.0f}" if float(v).is_integer() and abs(v) >= 10 else f"{v:.3f}"


def _table(summary: dict, rows: list[tuple[str, str]]) -> str:
    cols = summary["columns"]
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr>"
    body = ""
    for key, title in rows:
        section, _, name = key.partition(":")
        source = summary.get(section) or {}
        vals = [(source.get(c) or {}).get(name) for c in cols]
        if all(v is None for v in vals):
            continue
        body += f"<tr><td>{html.escape(title)}</td>" + "".join(f"<td>{_fmt(v)}</td>" for v in vals) + "</tr>"
    return f"<table>{head}{body}</table>"


HEADLINE = [("distance_to_reference:two_sample_auc", "classifier two-sample AUC vs real (0.5 = indistinguishable)"),
            ("distance_to_reference:frechet", "Fréchet distance to real (same-size columns only)"),
            ("distance_to_reference:overlap_mean", "overlap/mean with real (1 = same)"),
            ("distance_to_reference:overlap_unseen", "overlap/mean over the metrics no reward term scores"),
            ("metrics:judge/p_jazz", "independent judge P(jazz) (never a reward)"),
            ("metrics:onsets_per_beat", "note onsets per beat"), ("metrics:notes_per_bar", "notes per bar"),
            ("metrics:polyphony", "polyphony"), ("metrics:bass_onsets_per_beat", "bass onsets per beat"),
            ("metrics:swing_ratio", "swing ratio"), ("metrics:copy/longest_bars", "longest copied run (bars)"),
            ("metrics:jazz_probability", "discriminator P(jazz) (the reward)"),
            ("metrics:pitch_class_entropy", "pitch-class entropy"), ("metrics:repeated_notes", "repeated notes"),
            ("metrics:distinct_4", "distinct-4")]


def write_html(out: Path, title: str, intro: str, summary: dict, samples: dict, curves: Path | None = None,
               goodhart: Path | None = None, plots: Path | None = None, notes: list[str] | None = None) -> Path:
    """``out/report.html``. ``samples``: {"before"|"after": {"midi": [...], "wav": [...], "png": [...]}}."""
    out = Path(out)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>"]
    parts.append("<h2>Against real music</h2><p>First what the reward never sees; the discriminator's P(jazz), "
                 "which is the reward, comes after.</p>" + _table(summary, HEADLINE))
    for alarm in summary.get("alarms", []):
        parts.append(f"<p class='alarm'>&#9888; {html.escape(alarm)}</p>")
    bands = summary.get("inside_reference_band") or {}
    if bands:
        rows = [(f"inside_reference_band:{m}", f"{m}: share inside real's 5th-95th band")
                for m in next(iter(bands.values()))]
        parts.append("<h3>Share of pieces inside real music's band</h3>" + _table(summary, rows))
    parts.append("<h2>Listen</h2><div class='pair'>")
    for tag in ("before", "after"):
        s = samples.get(tag) or {}
        parts.append(f"<div><h3>{tag}</h3>")
        for i, midi in enumerate(s.get("midi", [])):
            wav = s["wav"][i] if i < len(s.get("wav", [])) else None
            png = s["png"][i] if i < len(s.get("png", [])) else None
            player = (f'<audio controls preload="metadata" src="{html.escape(str(Path(wav).relative_to(out)))}">'
                      f"</audio>") if wav else "<em>(no audio)</em>"
            parts.append(f"<figure>{_img(png, Path(midi).stem)}<figcaption>{html.escape(Path(midi).name)} "
                         f"<a href='{html.escape(str(Path(midi).relative_to(out)))}'>MIDI</a></figcaption>{player}"
                         f"</figure>")
        parts.append("</div>")
    parts.append("</div>")
    if curves is not None or goodhart is not None:
        parts.append("<h2>Training</h2>" + _img(curves, "reward and KL") + _img(goodhart, "reward vs judge"))
    if plots is not None and Path(plots).is_dir():
        parts.append("<h2>Distributions</h2><div class='plots'>"
                     + "".join(_img(p, p.stem) for p in sorted(Path(plots).glob("*.png"))) + "</div>")
    for line in notes or []:
        parts.append(f"<p>{html.escape(line)}</p>")
    parts.append(_CHECK + "</body></html>")
    path = out / "report.html"
    path.write_text("\n".join(parts))
    return path
