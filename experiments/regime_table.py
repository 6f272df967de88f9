#!/usr/bin/env python3
"""Fine-tuning from one pre-trained baseline (experiments/hdr_paper_regime.sh): every point of
the sweep beside the baseline it started from, in both comparisons: against the pre-trained
baseline (the paper's, Sec. 4.3) and against plain fine-tuning of the same schedule and seed
(ours: what the regularizer adds beyond more training). Mean +- standard deviation over seeds;
in brackets how many seeds improve (PSNR up, S up, equivariance error down).

    experiments/regime_table.py OUT      (OUT/results.csv and OUT/base_eval.json)
"""
import csv
import json
import math
import sys

from grid_table import fmt, mean_sd

KEYS = [("psnr", "PSNR sat (dB)"), ("psnr_display", "PSNR sat display (dB)"), ("s", "S sat-union"),
        ("equiv", "equiv error")]


def change(key, a, b):  # a relative to b: a difference for PSNR, a ratio otherwise
    return a - b if key.startswith("psnr") else a / b


def better(key, c):
    return c > 0 if key.startswith("psnr") else (c > 1 if key == "s" else c < 1)


def main():
    out = sys.argv[1]
    ev = json.load(open(f"{out}/base_eval.json"))
    base = {}
    for key, _ in KEYS:
        xs = [r["values"].get(key) for s in ev["sequences"] for r in s["rows"] if r["name"] == "m1"]
        xs = [x for x in xs if x is not None and math.isfinite(x)]
        base[key] = sum(xs) / len(xs) if xs else float("nan")
    rows = list(csv.DictReader(open(f"{out}/results.csv")))
    by = {}
    for r in rows:
        by.setdefault((r["setting"], float(r["alpha"])), {})[int(r["seed"])] = r
    none = by.get(("none", 0.0), {})
    print("| model | alpha | " + " | ".join(label for _, label in KEYS) +
          " | PSNR − base | S / base | PSNR − none | S / none | equiv / none | seeds |")
    print("|---|---:|" + "---:|" * len(KEYS) + "---:|---:|---:|---:|---:|---:|")
    print("| pre-trained baseline | - | " + " | ".join(
        f"{base[k]:.3f}" if k != "equiv" else f"{base[k]:.2e}" for k, _ in KEYS) + " | 0 | 1 | | | | |")
    order = ["none", "augment", "stability-noise", "stability", "trans-inv", "jacobian"]
    for (setting, alpha) in sorted(by, key=lambda k: (order.index(k[0]), k[1])):
        pts = by[(setting, alpha)]
        seeds = sorted(pts)
        val = {k: [float(pts[s][k]) for s in seeds if pts[s].get(k)] for k, _ in KEYS}
        cells = [fmt(val[k], 2 if k.startswith("psnr") else 3) if k != "equiv" else
                 f"{mean_sd(val[k])[0]:.2e} ± {mean_sd(val[k])[1]:.1e}" for k, _ in KEYS]

        def vs(key, ref, digits):
            cs = [change(key, float(pts[s][key]), ref(s)) for s in seeds if ref(s) is not None]
            if not cs:
                return ""
            return f"{fmt(cs, digits)} ({sum(better(key, c) for c in cs)}/{len(cs)})"
        rel_base = [vs("psnr", lambda s: base["psnr"], 2), vs("s", lambda s: base["s"], 3)]
        if setting == "none":
            rel_none = ["", "", ""]
        else:
            ref = lambda key: (lambda s: float(none[s][key]) if s in none else None)
            rel_none = [vs("psnr", ref("psnr"), 2), vs("s", ref("s"), 3), vs("equiv", ref("equiv"), 2)]
        name = "plain fine-tuning" if setting == "none" else setting
        print(f"| {name} | {'-' if setting == 'none' else alpha} | " + " | ".join(cells) + " | " +
              " | ".join(rel_base + rel_none) + f" | {len(seeds)} |")


if __name__ == "__main__":
    main()
