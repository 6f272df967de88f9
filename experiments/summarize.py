#!/usr/bin/env python3
"""Summarizes experiments/hdr_finetune.sh: one Markdown table, mean +- standard deviation over
seeds of each seed's mean over the test sequences, and each regularizer's S against plain
fine-tuning of the same seed (paired: ratio of S per seed, then mean +- std).

    experiments/summarize.py OUT_DIR
"""
import json
import math
import pathlib
import sys

ROWS = ["input", "base", "none", "trans-inv", "jacobian"]
KEYS = [("psnr", "PSNR sat (dB)"), ("s", "S sat-union"), ("s_sat", "S sat"), ("s_gt", "S gt-over"),
        ("s_all", "S all px"), ("flicker", "flicker"), ("equiv", "equiv error")]


def mean_std(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return m, sd


def cell(m, sd):
    if m is None:
        return "-"
    return f"{m:.4g}" + ("" if sd is None else f" ± {sd:.2g}")


def main(out):
    seeds = sorted(pathlib.Path(out).glob("seed_*/eval.json"))
    if not seeds:
        sys.exit(f"summarize.py: no seed_*/eval.json under {out}")
    per_seed = []  # [seed][row][key] = mean over sequences
    for f in seeds:
        j = json.load(open(f))
        rows = {}
        for i, name in enumerate(ROWS):
            vals = {}
            for k, _ in KEYS:
                vals[k] = mean_std([s["rows"][i]["values"][k] for s in j["sequences"]])[0]
            rows[name] = vals
        per_seed.append(rows)
    n_seq = len(json.load(open(seeds[0]))["sequences"])
    print(f"{len(seeds)} seeds x {n_seq} test sequences; mean ± std over seeds of each seed's mean over sequences\n")
    print("| model | " + " | ".join(label for _, label in KEYS) + " |")
    print("|---|" + "---:|" * len(KEYS))
    for name in ROWS:
        print(f"| {name} | " + " | ".join(cell(*mean_std([s[name][k] for s in per_seed])) for k, _ in KEYS) + " |")
    print("\nS against plain fine-tuning of the same seed (ratio; > 1: smoother than plain fine-tuning):\n")
    print("| model | " + " | ".join(label for _, label in KEYS[1:5]) + " | equiv error ratio |")
    print("|---|" + "---:|" * 5)
    for name in ["trans-inv", "jacobian"]:
        cells = []
        for k, _ in KEYS[1:5] + [KEYS[6]]:
            ratios = [s[name][k] / s["none"][k] for s in per_seed if s[name][k] and s["none"][k]]
            m, sd = mean_std(ratios)
            cells.append(cell(m, sd) + f" ({sum(r > 1 for r in ratios)}/{len(ratios)} > 1)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
