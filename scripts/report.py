#!/usr/bin/env python3
"""Turns the report folder written by `eval_video ... --report DIR` into plots and a static page.

    python3 scripts/report.py DIR

Reads DIR/report.json (the manifest: title, task, command, date, protocol, table columns, the mean
over sequences and, per sequence, its table rows, stills, difference images, the temporal-profile
CSV, the per-frame CSV and the side-by-side video; every file path in it is relative to DIR).
Writes, next to each sequence's CSVs (DIR/<seq>/):
    profile.png, profile.svg       temporal profiles: one panel per pixel (per pixel and channel
                                   when there are few), one line per row, value in the metric domain
    per_frame.png, per_frame.svg   per-frame error against the reference and flicker over time
and DIR/index.html: one self-contained page (inline CSS, no external resources) with the tables,
the protocol, the stills, the difference images, the plots and the video. An inline script counts
the images that failed to load into <body data-images=N data-broken-images=M> for headless checks.

Needs only the standard library; the plots need matplotlib (without it they are skipped with a
warning and the page is still written). A malformed manifest or CSV: one error line, exit 1.
"""
import csv
import html
import json
import math
import os
import re
import sys
import urllib.parse


class ReportError(Exception):
    pass


def need(obj, key, kinds, where, optional=False):
    """obj[key] checked against kinds (a tuple of types); None when optional and absent/null."""
    if not isinstance(obj, dict):
        raise ReportError(f"{where}: expected an object, got {type(obj).__name__}")
    value = obj.get(key)
    if value is None:
        if optional:
            return None
        raise ReportError(f'{where}: missing "{key}"')
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ReportError(f"{where}.{key}: expected {names}, got {type(value).__name__}")
    return value


def need_path(obj, key, where, optional=True):
    path = need(obj, key, (str,), where, optional)
    if path is not None:
        norm = os.path.normpath(path)
        if os.path.isabs(path) or norm == ".." or norm.startswith(".." + os.sep):
            raise ReportError(f'{where}.{key}: "{path}" is not a relative path inside the report')
    return path


NUM = (int, float)


def load_manifest(folder):
    """Reads and checks DIR/report.json; raises ReportError naming the first problem."""
    path = os.path.join(folder, "report.json")
    try:
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: {e}") from e
    need(m, "title", (str,), "report")
    need(m, "task", (str,), "report")
    need(m, "command", (str,), "report", True)
    need(m, "date", (str,), "report", True)
    for i, line in enumerate(need(m, "protocol", (list,), "report", True) or []):
        if not isinstance(line, str):
            raise ReportError(f"report.protocol[{i}]: expected str")
    for i, col in enumerate(need(m, "columns", (list,), "report")):
        need(col, "key", (str,), f"report.columns[{i}]")
        need(col, "label", (str,), f"report.columns[{i}]")
    mean = need(m, "mean", (dict,), "report", True)
    if mean is not None:
        need(mean, "sequences", NUM, "report.mean", True)
        for i, row in enumerate(need(mean, "rows", (list,), "report.mean")):
            where = f"report.mean.rows[{i}]"
            need(row, "name", (str,), where)
            need(row, "label", (str,), where, True)
            for key, v in (need(row, "values", (dict,), where, True) or {}).items():
                if v is not None:
                    need(v, "mean", NUM, f"{where}.values.{key}", True)
                    need(v, "std", NUM, f"{where}.values.{key}", True)
    for s, seq in enumerate(need(m, "sequences", (list,), "report")):
        where = f"report.sequences[{s}]"
        need(seq, "name", (str,), where)
        need(seq, "source", (str,), where, True)
        need(seq, "display", (str,), where, True)
        for key in ("frames", "width", "height", "fps"):
            need(seq, key, NUM, where, True)
        for i, row in enumerate(need(seq, "rows", (list,), where)):
            need(row, "name", (str,), f"{where}.rows[{i}]")
            need(row, "label", (str,), f"{where}.rows[{i}]", True)
            for key, v in (need(row, "values", (dict,), f"{where}.rows[{i}]", True) or {}).items():
                if v is not None and (not isinstance(v, NUM) or isinstance(v, bool)):
                    raise ReportError(f"{where}.rows[{i}].values.{key}: expected a number or null")
        for i, still in enumerate(need(seq, "stills", (list,), where, True) or []):
            need(still, "frame", NUM, f"{where}.stills[{i}]")
            for j, img in enumerate(need(still, "images", (list,), f"{where}.stills[{i}]")):
                need(img, "row", (str,), f"{where}.stills[{i}].images[{j}]")
                need_path(img, "file", f"{where}.stills[{i}].images[{j}]", False)
        diff = need(seq, "diff", (dict,), where, True)
        if diff is not None:
            crop = need(diff, "crop", (list,), f"{where}.diff", True)
            if crop is not None and (len(crop) != 4 or not all(type(c) in NUM for c in crop)):
                raise ReportError(f"{where}.diff.crop: expected [x, y, w, h]")
            need(diff, "frame", NUM, f"{where}.diff", True)
            need(diff, "scale", (str,), f"{where}.diff", True)
            for j, img in enumerate(need(diff, "images", (list,), f"{where}.diff")):
                need(img, "row", (str,), f"{where}.diff.images[{j}]")
                need_path(img, "file", f"{where}.diff.images[{j}]", False)
        for key in ("profile_csv", "per_frame_csv", "video"):
            need_path(seq, key, where)
    return m


def read_csv(folder, rel):
    """(t, {column: [float or nan]}) from a CSV whose first column is "t"."""
    try:
        with open(os.path.join(folder, rel), newline="", encoding="utf-8") as f:
            lines = list(csv.reader(f))
    except OSError as e:
        raise ReportError(f"{rel}: {e}") from e
    if not lines or not lines[0] or lines[0][0].strip() != "t":
        raise ReportError(f'{rel}: the first column must be "t"')
    header = []  # rejoin "ROW@X,Y:C" names split by an unquoted comma
    for tok in lines[0]:
        if header and re.fullmatch(r".*@-?\d+", header[-1]) and re.fullmatch(r"-?\d+:\d+", tok):
            header[-1] += "," + tok
        else:
            header.append(tok.strip())
    cols = {name: [] for name in header}
    for n, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        if len(line) != len(header):
            raise ReportError(f"{rel}:{n}: {len(line)} cells, the header has {len(header)}")
        for name, cell in zip(header, line):
            try:
                cols[name].append(float(cell) if cell.strip() else math.nan)
            except ValueError as e:
                raise ReportError(f"{rel}:{n}: {name}: not a number: {cell!r}") from e
    return cols.pop(header[0]), cols


def row_style(name, label):
    if name == "reference":
        return dict(color="0.55", linewidth=3.5, alpha=0.7, zorder=1, label=label)
    if name == "input":
        return dict(color="black", linestyle="--", linewidth=1.2, zorder=2, label=label)
    return dict(linewidth=1.4, zorder=3, label=label)


def save(fig, folder, base):
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(folder, f"{base}.{ext}"), dpi=110)


def plot_profiles(plt, folder, seq, labels, task):
    t, cols = read_csv(folder, seq["profile_csv"])
    series = {}  # (x, y) -> channel -> [(row, values)]
    for col, values in cols.items():
        hit = re.fullmatch(r"(.+)@(-?\d+),(-?\d+):(\d+)", col)
        if not hit:
            raise ReportError(f'{seq["profile_csv"]}: column "{col}" is not ROW@X,Y:C')
        row, x, y, c = hit.group(1), int(hit.group(2)), int(hit.group(3)), int(hit.group(4))
        series.setdefault((x, y), {}).setdefault(c, []).append((row, values))
    if not series:
        return None
    # one row of panels per pixel; one column per channel when that makes few panels, else channel 0
    shown = max(len(chs) for chs in series.values()) if len(series) <= 2 else 1
    fig, axes = plt.subplots(len(series), shown, figsize=(3.7 * shown + 1 if shown > 1 else 8,
                             2.3 * len(series) + 0.6), squeeze=False)
    ylabel = {"hdr": "log(v + 1/255)", "color": "a, b / 110"}.get(task, "value")
    for (x, y), ax_row in zip(series, axes):
        channels = sorted(series[(x, y)])
        for ax in ax_row[len(channels):]:
            ax.axis("off")
        for c, ax in zip(channels, ax_row):
            for row, values in series[(x, y)][c]:
                ax.plot(t, values, **row_style(row, labels.get(row, row)))
            ax.set_title(f"pixel ({x}, {y}), channel {c}", fontsize=9)
            ax.grid(alpha=0.3)
        ax_row[0].set_ylabel(ylabel, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("frame")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    base = os.path.splitext(seq["profile_csv"])[0]
    save(fig, folder, base)
    plt.close(fig)
    return base


def plot_per_frame(plt, folder, seq, labels):
    t, cols = read_csv(folder, seq["per_frame_csv"])
    fig, axes = plt.subplots(2, 1, figsize=(8, 5.2), sharex=True)
    for ax, kind, title in ((axes[0], "error", "mean squared error vs the reference"),
                            (axes[1], "flicker", "flicker: mean |v(t) - v(t-1)|")):
        for col, values in cols.items():
            row, _, what = col.rpartition(":")
            if what == kind and not all(math.isnan(v) for v in values):
                ax.plot(t, values, **row_style(row, labels.get(row, row)))
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7, loc="best")
    axes[1].set_xlabel("frame")
    fig.tight_layout()
    base = os.path.splitext(seq["per_frame_csv"])[0]
    save(fig, folder, base)
    plt.close(fig)
    return base


def fmt(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:#.4g}".rstrip(".") if isinstance(v, float) else str(v)


def fmt_mean(v):
    if not v or v.get("mean") is None:
        return "–"
    return fmt(v["mean"]) + ("" if v.get("std") is None else " ± " + fmt(v["std"]))


def table(caption, columns, rows, cell):
    head = "".join(f"<th>{html.escape(c['label'])}</th>" for c in columns)
    body = "".join(
        f"<tr><th>{html.escape(r.get('label') or r['name'])}</th>"
        + "".join(f"<td>{cell((r.get('values') or {}).get(c['key']))}</td>" for c in columns)
        + "</tr>" for r in rows)
    return (f"<table><caption>{caption}</caption><tr><th></th>{head}</tr>{body}</table>")


def url(path):
    return html.escape(urllib.parse.quote(path.replace(os.sep, "/")))


def shown_width(w):
    """An integer multiple of the image width, at least 192 px: small frames stay crisp."""
    return w * max(1, -(-192 // w)) if w and w > 0 else 192


def figures(images, labels, width):
    return '<div class="row">' + "".join(
        f'<figure><img src="{url(i["file"])}" width="{width}" alt="{html.escape(i["row"])}">'
        f'<figcaption>{html.escape(labels.get(i["row"], i["row"]))}</figcaption></figure>'
        for i in images) + "</div>"


CSS = """body{font:14px/1.4 sans-serif;margin:1.5em;color:#222;max-width:1400px}
pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:1em 0}caption{text-align:left;font-weight:bold;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.25em .6em}td{text-align:right;font-variant-numeric:tabular-nums}
.row{display:flex;flex-wrap:wrap;gap:10px}figure{margin:0}
figure img{image-rendering:pixelated;display:block;height:auto}
figcaption{font-size:12px;text-align:center;max-width:100%;overflow-wrap:anywhere}
img.plot{max-width:100%}video{width:min(100%,960px);image-rendering:pixelated}.note{color:#555}section{border-top:2px solid #ddd;margin-top:2em}"""

SCRIPT = """window.addEventListener("load", function () {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++;
  document.body.dataset.images = imgs.length;
  document.body.dataset.brokenImages = broken;
});"""


def page(m, plots):
    e = html.escape
    out = [f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{e(m['title'])}</title>"
           f"<style>{CSS}</style><script>{SCRIPT}</script></head><body>",
           f"<h1>{e(m['title'])}</h1>"]
    if m.get("command"):
        out.append(f"<pre>{e(m['command'])}</pre>")
    out.append(f"<p class=\"note\">task: {e(m['task'])}" + (f", {e(m['date'])}" if m.get("date") else "") + "</p>")
    if m.get("mean"):
        n = m["mean"].get("sequences")
        out.append(table(f"mean ± std over {e(str(n)) if n is not None else 'all'} sequences",
                         m["columns"], m["mean"]["rows"], fmt_mean))
    for k, seq in enumerate(m["sequences"]):
        info = ", ".join(f"{k} {seq[k]:g}" for k in ("frames", "fps") if seq.get(k) is not None)
        if seq.get("width") and seq.get("height"):
            info += f", {seq['width']}x{seq['height']}"
        cam = seq.get("camera")
        if cam:  # the camera the sequence was evaluated with, so its figures can be re-derived
            info += (f"; camera: exposure {cam['exposure']:.4g} (clip percentile {cam['clip_percentile']:.2f}),"
                     f" curve n {cam['curve_n']:.3f} a {cam['curve_a']:.3f}")
            if seq.get("saturated_share") is not None:
                info += f"; saturated share {100 * seq['saturated_share']:.2f}%"
        out.append(table(f"<a href=\"#seq{k}\">{e(seq['name'])}</a> "
                         f"<span class=\"note\">{e(seq.get('source') or '')} {e(info)}</span>",
                         m["columns"], seq["rows"], fmt))
    if m.get("protocol"):
        out.append("<ul>" + "".join(f"<li>{e(line)}</li>" for line in m["protocol"]) + "</ul>")
    for k, seq in enumerate(m["sequences"]):
        labels = {r["name"]: r.get("label") or r["name"] for r in seq["rows"]}
        out.append(f"<section id=\"seq{k}\"><h2>{e(seq['name'])}</h2>")
        width = shown_width(seq.get("width"))
        for still in seq.get("stills") or []:
            out.append(f"<h3>frame {still['frame']:g}</h3>" + figures(still["images"], labels, width))
        if seq.get("display"):
            out.append(f"<p class=\"note\">{e(seq['display'])}</p>")
        diff = seq.get("diff")
        if diff:
            crop = diff.get("crop")
            where = f", crop x {crop[0]}, y {crop[1]}, {crop[2]}x{crop[3]}" if crop else ""
            scale = f"<p class=\"note\">scale: {e(diff['scale'])}</p>" if diff.get("scale") else ""
            frame = "" if diff.get("frame") is None else f", frame {diff['frame']:g}"
            out.append(f"<h3>change from the previous frame{frame}{e(where)}</h3>"
                       + scale
                       + figures(diff["images"], labels, shown_width(crop[2] if crop else None)))
        for base, title in plots.get(seq["name"], []):
            out.append(f"<h3>{title}</h3><img class=\"plot\" src=\"{url(base + '.png')}\" alt=\"{title}\">"
                       f"<p><a href=\"{url(base + '.svg')}\">SVG</a></p>")
        if seq.get("video"):
            v = url(seq["video"])
            out.append(f"<h3>video (the rows side by side, in table order)</h3><video controls loop muted src=\"{v}\">"
                       f"</video><p><a href=\"{v}\">{e(seq['video'])}</a></p>")
        out.append("</section>")
    out.append("</body></html>\n")
    return "\n".join(out)


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    folder = argv[1]
    try:
        m = load_manifest(folder)
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as err:
            print(f"report.py: warning: matplotlib not available ({err}): plots skipped", file=sys.stderr)
            plt = None
        plots = {}
        for seq in m["sequences"] if plt else []:
            labels = {r["name"]: r.get("label") or r["name"] for r in seq["rows"]}
            made = plots.setdefault(seq["name"], [])
            if seq.get("profile_csv"):
                base = plot_profiles(plt, folder, seq, labels, m["task"])
                if base:
                    made.append((base, "temporal profiles"))
            if seq.get("per_frame_csv"):
                made.append((plot_per_frame(plt, folder, seq, labels), "per-frame error and flicker"))
        with open(os.path.join(folder, "index.html"), "w", encoding="utf-8") as f:
            f.write(page(m, plots))
    except (ReportError, OSError) as err:
        print(f"report.py: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
