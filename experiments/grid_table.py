#!/usr/bin/env python3
"""The full grid of a sweep (scripts/sweep.py OUT/results.csv) as one Markdown table: every
setting x alpha, mean +- standard deviation over seeds of PSNR, S and the equivariance error,
and each seed's difference (PSNR) or ratio (S, equivariance error) to plain fine-tuning ('none')
of the same seed, with how many seeds are above 0 / above 1 / below 1 in brackets.

    experiments/grid_table.py OUT [--psnr-label 'PSNR sat (dB)']
"""
import argparse
import csv
import math
import sys


def mean_sd(xs):
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def fmt(xs, digits=3):
    m, sd = mean_sd(xs)
    return f"{m:.{digits}f} ± {sd:.{digits}f}"


def fmt_sci(xs):
    m, sd = mean_sd(xs)
    return f"{m:.2e} ± {sd:.1e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--psnr-label", default="PSNR (dB)")
    a = ap.parse_args()
    rows = list(csv.DictReader(open(f"{a.out}/results.csv")))
    by = {}
    for r in rows:
        by.setdefault((r["setting"], float(r["alpha"])), {})[int(r["seed"])] = r
    none = by.get(("none", 0.0), {})
    order = ["none", "augment", "stability-noise", "stability", "trans-inv", "jacobian"]
    print(f"| setting | alpha | {a.psnr_label} | PSNR - none | S | S / none | equiv error | "
          "equiv / none | seeds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (setting, alpha) in sorted(by, key=lambda k: (order.index(k[0]), k[1])):
        pts = by[(setting, alpha)]
        seeds = sorted(pts)
        psnr = [float(pts[s]["psnr"]) for s in seeds]
        S = [float(pts[s]["s"]) for s in seeds]
        eq = [float(pts[s]["equiv"]) for s in seeds]
        paired = [s for s in seeds if s in none]
        if setting == "none" or not paired:
            ratio_s = ratio_e = "1"
            delta = "0"
        else:
            dp = [float(pts[s]["psnr"]) - float(none[s]["psnr"]) for s in paired]
            delta = f"{fmt(dp, 2)} ({sum(d > 0 for d in dp)}/{len(dp)})"
            rs = [float(pts[s]["s"]) / float(none[s]["s"]) for s in paired]
            re = [float(pts[s]["equiv"]) / float(none[s]["equiv"]) for s in paired]
            ratio_s = f"{fmt(rs)} ({sum(r > 1 for r in rs)}/{len(rs)})"
            ratio_e = f"{fmt(re, 2)} ({sum(r < 1 for r in re)}/{len(re)})"
        print(f"| {setting} | {'-' if setting == 'none' else alpha} | {fmt(psnr, 2)} | {delta} | "
              f"{fmt(S)} | {ratio_s} | {fmt_sci(eq)} | {ratio_e} | {len(seeds)} |")


if __name__ == "__main__":
    sys.exit(main())
