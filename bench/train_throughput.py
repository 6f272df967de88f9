#!/usr/bin/env python3
"""The training tools' images/s against bench_step's on the same configuration: does the input
pipeline keep up with the step? Run from the build folder:

    python3 ../bench/train_throughput.py --device cpu --sizes 64,128 --json out.json

For each model, size and regularizer: train_hdr on gen_procedural's images (made once, at the
size) and train_color on the fetched outdoor photos (`make data`), for --steps steps with
--log-every 5; their images/s is the total over log.csv's rows after the first (the first
holds the one-time set-up: oneDNN's code generation, cuDNN's algorithm search). The data hold
exactly --steps batches, so the only checkpoint is written after the last row. bench_step runs
the same model, batch, size and regularizer on random data (10 timed steps). Each pair runs
--repeat times, alternating; the table shows the medians.
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def train_images_per_s(log, batch):
    """Images over seconds of log.csv's rows after the first."""
    rows = list(csv.DictReader(open(log)))
    if len(rows) < 2:
        sys.exit(f"{log}: too few rows; raise --steps")
    images = seconds = 0.0
    for prev, r in zip(rows, rows[1:]):
        n = (int(r["step"]) - int(prev["step"])) * batch
        images += n
        seconds += n / float(r["images_per_s"])
    return images / seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", default="64,128")
    ap.add_argument("--models", default="hdr,color")
    ap.add_argument("--regs", default="none,trans-inv")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each; medians are reported")
    ap.add_argument("--photos", default="../data/real/photos/outdoor")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="steady_throughput_")
    results = []
    print("| model | reg | batch x size | train images/s | bench_step images/s | train / bench |")
    print("|---|---|---|---:|---:|---:|")
    for size in map(int, a.sizes.split(",")):
        images = a.batch * a.steps
        hdr_data = os.path.join(work, f"hdr{size}")
        if "hdr" in a.models:
            run(["./gen_procedural", hdr_data, "--train", str(images), "--test-seqs", "0",
                 "--size", str(size), "--seed", "1", "--quiet"])
        # The photos, linked over and over into one folder of --steps batches: an epoch ends
        # (and a checkpoint is written) only at the end, as in a run on a real data set.
        photo_data = os.path.join(work, "photos")
        if "color" in a.models and not os.path.isdir(photo_data):
            os.makedirs(photo_data)
            photos = sorted(f for f in os.listdir(a.photos) if f.lower().endswith((".png", ".jpg", ".jpeg")))
            if not photos:
                sys.exit(f"no photos in {a.photos}: run `make data`")
            for k in range(images):
                src = photos[k % len(photos)]
                os.symlink(os.path.abspath(os.path.join(a.photos, src)),
                           os.path.join(photo_data, f"{k:05d}{os.path.splitext(src)[1]}"))
        for model in a.models.split(","):
            data = os.path.join(hdr_data, "train") if model == "hdr" else photo_data
            for reg in a.regs.split(","):
                out = os.path.join(work, f"{model}_{size}_{reg}")
                # enough epochs over the data for --steps steps
                n = len([f for f in os.listdir(data) if not f.startswith(".")])
                epochs = max(1, -(-a.steps * a.batch // n))
                trains, steps = [], []
                for _ in range(a.repeat):  # alternated, so a slow spell of the machine hits both
                    run([f"./train_{model}", data, "--device", a.device, "--size", str(size),
                         "--batch", str(a.batch), "--epochs", str(epochs), "--reg", reg,
                         "--log-every", "5", "--stop-after", str(a.steps), "--overwrite",
                         "--out", out])
                    trains.append(train_images_per_s(os.path.join(out, "log.csv"), a.batch))
                    bench = json.loads(run(["./bench_step", "--device", a.device, "--models",
                                            model, "--regs", reg, "--batch", str(a.batch),
                                            "--size", str(size), "--steps", "10", "--json"]))
                    steps.append(bench["results"][0]["images_per_s"])
                train, step = statistics.median(trains), statistics.median(steps)
                results.append({"model": model, "reg": reg, "batch": a.batch, "size": size,
                                "train_images_per_s": train, "bench_images_per_s": step,
                                "ratio": train / step})
                print(f"| {model} | {reg} | {a.batch} x {size} | {train:.1f} | {step:.1f} "
                      f"| {train / step:.2f} |", flush=True)
    if a.json:
        json.dump({"device": a.device, "results": results}, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
