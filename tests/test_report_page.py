#!/usr/bin/env python3
"""Checks the page that scripts/report.py makes from an eval_video report folder.

    python3 tests/test_report_page.py [REPORT_DIR]

With REPORT_DIR: checks that folder as it is (index.html already written). Without: writes a
synthetic report (2 sequences, 3 rows, small PNGs, profile and per-frame CSVs, no video) into a
temporary folder, runs scripts/report.py on it with this interpreter, and checks the result.

Checks: index.html exists; every relative src/href it references exists; every PNG in the folder
decodes and every SVG parses as XML; then, with Chromium, the page loads headless with no broken
image (<body data-broken-images="0">, data-images = the number of <img> tags) and a screenshot of
it is not blank. Exit 0: passed; 1: a check failed; 77: file checks passed, no Chromium found.
CHROMIUM=/path/to/chromium picks the browser; CHROMIUM= (empty) skips the browser checks.
"""
import csv
import html.parser
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT_PY = os.path.join(HERE, "..", "scripts", "report.py")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.image as mpimg
except ImportError:
    mpimg = None


def write_png(path, pixels):
    """pixels: rows of (r, g, b) byte triples; an 8-bit RGB PNG through zlib."""
    h, w = len(pixels), len(pixels[0])
    raw = b"".join(b"\0" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def check_png_bytes(path):
    """Without matplotlib: signature, chunk CRCs, IHDR, and the IDAT data's inflated size."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    at, chunks, idat = 8, [], b""
    while at < len(blob):
        (n,) = struct.unpack(">I", blob[at:at + 4])
        kind, data = blob[at + 4:at + 8], blob[at + 8:at + 8 + n]
        if struct.unpack(">I", blob[at + 8 + n:at + 12 + n])[0] != zlib.crc32(kind + data):
            raise ValueError(f"bad CRC in {kind!r}")
        chunks.append(kind)
        idat += data if kind == b"IDAT" else b""
        at += 12 + n
    if chunks[0] != b"IHDR" or chunks[-1] != b"IEND":
        raise ValueError("IHDR/IEND missing")
    w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", blob[16:29])
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    expected = h * (1 + (w * channels * depth + 7) // 8)
    if interlace == 0 and len(zlib.decompress(idat)) != expected:
        raise ValueError("IDAT size does not match the header")
    return w, h


def decode_png(path):
    """(width, height, pixel standard deviation or None without matplotlib)."""
    if mpimg is None:
        w, h = check_png_bytes(path)
        return w, h, None
    img = mpimg.imread(path)
    return img.shape[1], img.shape[0], float(img.std())


def make_fixture(folder):
    rows = [("input", "input (LDR, linearized)"), ("m1", "runs/base/last.safetensors"),
            ("reference", "ground truth")]
    columns = [{"key": "psnr", "label": "PSNR sat (dB)"}, {"key": "s", "label": "S (sat, union mask)"}]
    frames, size, pixels = 24, 16, [[3, 5], [10, 12]]
    sequences = []
    for k, name in enumerate(["seq_000", "seq 001 & <odd>"]):
        sub = name  # folder names with spaces, & and <> exercise the URL quoting

        def image(kind, frame, row, i):
            rel = f"{sub}/{kind}_{frame:04d}_{row}.png"
            write_png(os.path.join(folder, rel),
                      [[((x * 16 + i * 60) % 256, (y * 16) % 256, (x + y) * 8 % 256) for x in range(size)]
                       for y in range(size)])
            return {"row": row, "file": rel}

        with _open(folder, sub, "profile.csv") as f:
            names = [f"{r}@{x},{y}:{c}" for r, _ in rows for x, y in pixels for c in range(3)]
            if k == 0:
                csv.writer(f).writerow(["t"] + names)  # quoted names
            else:
                f.write(",".join(["t"] + names) + "\n")  # unquoted: report.py rejoins them
            for t in range(frames):
                f.write(",".join([str(t)] + [f"{math.sin(t / 3 + i) * 0.5 + (i % 3):.5f}"
                                             for i in range(len(names))]) + "\n")
        with _open(folder, sub, "per_frame.csv") as f:
            w = csv.writer(f)
            w.writerow(["t"] + [f"{r}:{m}" for r, _ in rows for m in ("error", "flicker")])
            for t in range(frames):
                cells = []
                for i, (r, _) in enumerate(rows):
                    cells.append("" if r == "reference" else f"{0.01 * (i + 1) + 0.002 * math.sin(t):.5f}")
                    cells.append("" if t == 0 else f"{0.003 * (i + 1) * (1 + math.cos(t)):.5f}")
                w.writerow([t] + cells)
        sequences.append({
            "name": name, "source": f"data/test/{name}", "frames": frames, "width": size,
            "height": size, "fps": 25.0, "display": "HDR shown at -3 stops, gamma 2.2",
            "rows": [{"name": r, "label": lab, "values": {"psnr": 20.0 + i + k / 3, "s": None if i == 0 else 1.2345678}}
                     for i, (r, lab) in enumerate(rows)],
            "stills": [{"frame": f, "images": [image("still", f, r, i) for i, (r, _) in enumerate(rows)]}
                       for f in (4, 12)],
            "diff": None if k else {"frame": 12, "crop": [2, 2, 8, 8], "scale": "black 0, white 0.5 (log units)",
                                    "images": [image("diff", 12, r, i) for i, (r, _) in enumerate(rows[:2])]},
            "profile_csv": f"{sub}/profile.csv", "profile_pixels": pixels,
            "per_frame_csv": f"{sub}/per_frame.csv", "video": None})
    manifest = {
        "title": "eval_video: 2 sequences, 1 model", "task": "hdr",
        "command": "./eval_video data/test/seq_000 --model runs/base/last.safetensors --report out",
        "date": "2026-12-03 10:11 UTC", "protocol": ["first convention", "second <convention> & more"],
        "columns": columns,
        "mean": {"sequences": 2, "rows": [{"name": r, "label": lab, "values": {
            "psnr": {"mean": 20.5, "std": 0.25}, "s": None if i == 0 else {"mean": 1.5, "std": None}}}
            for i, (r, lab) in enumerate(rows)]},
        "sequences": sequences}
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump(manifest, f, indent=1)


def _open(folder, sub, name):
    os.makedirs(os.path.join(folder, sub), exist_ok=True)
    return open(os.path.join(folder, sub, name), "w", newline="")


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.imgs = [], 0

    def handle_starttag(self, tag, attrs):
        self.imgs += tag == "img"
        for key, value in attrs:
            if key in ("src", "href") and tag in ("img", "video", "source", "a") and value:
                self.links.append(value)


def file_checks(folder, fixture):
    """The failures (strings) of the checks that need no browser, and the page's img count."""
    fails = []
    index = os.path.join(folder, "index.html")
    if not os.path.isfile(index):
        return [f"{index} missing"], 0
    parser = Links()
    with open(index, encoding="utf-8") as f:
        parser.feed(f.read())
    for link in parser.links:
        parts = urllib.parse.urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path:
            continue  # absolute URLs and in-page anchors
        if not os.path.isfile(os.path.join(folder, urllib.parse.unquote(parts.path))):
            fails.append(f"index.html references {link}, which does not exist")
    pngs = svgs = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            try:
                if name.endswith(".png"):
                    decode_png(path)
                    pngs += 1
                elif name.endswith(".svg"):
                    ET.parse(path)
                    svgs += 1
            except Exception as e:  # any decoding error is a failure of the report
                fails.append(f"{path}: {e}")
    print(f"{len(parser.links)} links, {parser.imgs} img tags, {pngs} PNG and {svgs} SVG files checked")
    plots = [link for link in parser.links if re.search(r"(profile|per_frame)\.(png|svg)$", link)]
    if fixture and mpimg is not None and len(plots) != 8:
        fails.append(f"expected 8 plot links (2 sequences x 2 plots x PNG, SVG), found {len(plots)}")
    if mpimg is None:
        print("note: matplotlib missing for this python: plots not made, PNGs checked by header only")
    return fails, parser.imgs


def find_chromium():
    """$CHROMIUM when set (empty: none), else the first on PATH, else /usr/bin/chromium."""
    if "CHROMIUM" in os.environ:
        return shutil.which(os.environ["CHROMIUM"]) if os.environ["CHROMIUM"] else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def browser_checks(folder, chromium, imgs):
    fails = []
    page = "file://" + urllib.parse.quote(os.path.abspath(os.path.join(folder, "index.html")))
    with tempfile.TemporaryDirectory() as profile:
        base = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--allow-file-access-from-files", f"--user-data-dir={profile}",
                "--virtual-time-budget=5000"]
        dom = subprocess.run(base + ["--dump-dom", page], capture_output=True, text=True, timeout=60)
        body = re.search(r"<body[^>]*>", dom.stdout)
        if dom.returncode != 0 or not body:
            return [f"chromium --dump-dom failed (rc {dom.returncode}): {dom.stderr.strip()[-500:]}"]
        broken = re.search(r'data-broken-images="(\d+)"', body.group(0))
        count = re.search(r'data-images="(\d+)"', body.group(0))
        print(f"chromium: {body.group(0)}")
        if not broken or broken.group(1) != "0":
            fails.append(f"broken images in the page: {body.group(0)}")
        if not count or int(count.group(1)) != imgs:
            fails.append(f"data-images is not {imgs}: {body.group(0)}")
        shot = os.path.join(profile, "page.png")
        run = subprocess.run(base + [f"--screenshot={shot}", "--window-size=1200,2000", page],
                             capture_output=True, text=True, timeout=60)
        if run.returncode != 0 or not os.path.isfile(shot):
            return fails + [f"chromium --screenshot failed (rc {run.returncode}): {run.stderr.strip()[-500:]}"]
        try:
            w, h, std = decode_png(shot)
            print(f"screenshot {w}x{h}, " + ("blank check skipped (no matplotlib)" if std is None
                                                else f"pixel std {std:.4f}"))
            if std is not None and not std > 0:
                fails.append("the screenshot is blank")
        except Exception as e:
            fails.append(f"screenshot does not decode: {e}")
    return fails


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    fixture = len(argv) == 1
    folder = argv[1] if not fixture else tempfile.mkdtemp(prefix="report_page_")
    fails = []
    if fixture:
        make_fixture(folder)
        run = subprocess.run([sys.executable, REPORT_PY, folder], capture_output=True, text=True, timeout=120)
        print(run.stdout + run.stderr, end="")
        if run.returncode != 0:
            fails.append(f"report.py exited {run.returncode}")
        bad = tempfile.mkdtemp(prefix="report_bad_")
        with open(os.path.join(bad, "report.json"), "w") as f:
            json.dump({"title": "x", "task": "hdr", "columns": [], "sequences": [{"rows": []}]}, f)
        run = subprocess.run([sys.executable, REPORT_PY, bad], capture_output=True, text=True, timeout=60)
        shutil.rmtree(bad)
        if run.returncode != 1 or len(run.stderr.strip().splitlines()) != 1:
            fails.append(f"a malformed manifest: expected exit 1 and one error line, got {run.returncode}: {run.stderr!r}")
    more, imgs = file_checks(folder, fixture)
    fails += more
    chromium = find_chromium()
    if not fails and chromium:
        fails += browser_checks(folder, chromium, imgs)
    for fail in fails:
        print(f"FAIL: {fail}")
    if fails:
        if fixture:
            print(f"report folder kept: {folder}")
        return 1
    if fixture:
        shutil.rmtree(folder)
    if not chromium:
        print("chromium not found: browser checks skipped")
        return 77
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
