#!/usr/bin/env python3
"""Plots and tables from a sweep (scripts/sweep.py): the layout of the paper's Figs. 4 and 5
(PSNR and smoothness S against alpha, one line per setting with a band of +- one standard
deviation over seeds, plain fine-tuning as a horizontal line, S on a log axis) plus the held-out
equivariance error, a Table 3/4-style Markdown table at one alpha, and the training-loss curves
from each point's log.csv. PNG and SVG.

    scripts/plot_sweep.py OUT [--alpha 0.95] [--into DIR]    (default DIR: OUT/plots)

Needs matplotlib (Debian's python3-matplotlib, /usr/bin/python3).
"""
import argparse
import csv
import json
import math
import os
import pathlib
import sys

COLORS = {"none": "black", "augment": "tab:green", "stability-noise": "tab:purple",
          "stability": "tab:orange", "trans-inv": "tab:blue", "jacobian": "tab:red"}
PANELS = [("psnr", "PSNR (dB)", False), ("s", "smoothness S (log)", True),
          ("equiv", "equivariance error (log)", True)]


def mean_std(xs):
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def x_of(alpha):
    """The alphas 1 - 3^-k evenly spaced, as in the paper's figures."""
    return -math.log(1.0 - min(alpha, 0.9999), 3)


def grouped(points):
    """{setting: {alpha: [point, ...]}}"""
    g = {}
    for p in points:
        g.setdefault(p["setting"], {}).setdefault(p["alpha"], []).append(p)
    return g


def plot_curves(plt, doc, into):
    g = grouped(doc["points"])
    alphas = sorted({p["alpha"] for p in doc["points"] if p["setting"] != "none"})
    if not alphas:
        return None
    fig, axes = plt.subplots(1, len(PANELS), figsize=(5 * len(PANELS), 4))
    for ax, (key, label, log) in zip(axes, PANELS):
        base = g.get("none", {}).get(0.0, [])
        m, sd = mean_std([p[key] for p in base])
        if m is not None:
            ax.axhline(m, color=COLORS["none"], lw=1.2, label="none (plain fine-tuning)")
            ax.axhspan(m - sd, m + sd, color=COLORS["none"], alpha=0.08)
        for setting, by_alpha in g.items():
            if setting == "none":
                continue
            xs, ms, lo, hi = [], [], [], []
            for alpha in sorted(by_alpha):
                m, sd = mean_std([p[key] for p in by_alpha[alpha]])
                if m is None:
                    continue
                xs.append(x_of(alpha))
                ms.append(m)
                lo.append(m - sd)
                hi.append(m + sd)
            if not xs:
                continue
            c = COLORS.get(setting, None)
            ax.plot(xs, ms, "o-", color=c, label=setting, ms=4)
            if log:
                lo = [max(v, 1e-12) for v in lo]
            ax.fill_between(xs, lo, hi, color=c, alpha=0.15)
        ax.set_xticks([x_of(a) for a in alphas])
        ax.set_xticklabels([f"{a:g}" for a in alphas], rotation=45)
        ax.set_xlabel("alpha")
        ax.set_ylabel(label)
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    seeds = sorted({p["seed"] for p in doc["points"]})
    fig.suptitle(f"{doc['task']} sweep ({doc['preset']} preset): mean ± std over seeds "
                 f"{', '.join(map(str, seeds))}")
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(into / f"sweep_{doc['task']}.{ext}", dpi=110)
    plt.close(fig)
    return into / f"sweep_{doc['task']}.png"


def plot_losses(plt, out, doc, into):
    fig, ax = plt.subplots(figsize=(6, 4))
    seen = set()
    for p in doc["points"]:
        log = out / "points" / f"{p['setting']}_a{p['alpha']:g}_s{p['seed']}" / "run" / "log.csv"
        if not log.exists():
            continue
        rows = list(csv.DictReader(open(log)))
        steps = [int(r["step"]) for r in rows]
        loss = [float(r["loss"]) for r in rows]
        label = p["setting"] if p["setting"] not in seen else None
        seen.add(p["setting"])
        ax.plot(steps, loss, color=COLORS.get(p["setting"]), alpha=0.6, lw=1, label=label)
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("training loss (1-alpha) L_rec + alpha L_reg")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if seen:
        ax.legend(fontsize=8)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(into / f"losses_{doc['task']}.{ext}", dpi=110)
    plt.close(fig)


def table(doc, alpha):
    """Markdown: each setting at alpha (none at 0), mean ± std over seeds, S relative to none."""
    g = grouped(doc["points"])
    base_s = mean_std([p["s"] for p in g.get("none", {}).get(0.0, [])])[0]
    lines = [f"| setting | alpha | PSNR (dB) | S | S / S(none) | equivariance error | seeds |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for setting in ["none", "augment", "stability-noise", "stability", "trans-inv", "jacobian"]:
        by_alpha = g.get(setting)
        if not by_alpha:
            continue
        a = 0.0 if setting == "none" else min(by_alpha, key=lambda x: abs(x - alpha))
        pts = by_alpha[a]
        cells = []
        for key in ("psnr", "s"):
            m, sd = mean_std([p[key] for p in pts])
            cells.append("-" if m is None else f"{m:.4g} ± {sd:.2g}")
        m, sd = mean_std([p["s"] / base_s for p in pts if p["s"] is not None and base_s])
        cells.append("-" if m is None else f"{m:.3g} ± {sd:.2g}")
        m, sd = mean_std([p["equiv"] for p in pts])
        cells.append("-" if m is None else f"{m:.3g} ± {sd:.2g}")
        lines.append(f"| {setting} | {a:g} | " + " | ".join(cells) + f" | {len(pts)} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", help="a sweep's folder (holding results.json)")
    ap.add_argument("--alpha", type=float, default=0.95, help="alpha of the table")
    ap.add_argument("--into", help="where the plots go (default OUT/plots)")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    if not (out / "results.json").exists():
        sys.exit(f"plot_sweep: {out}/results.json not found (scripts/sweep.py collect {out})")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_sweep: matplotlib is missing (scripts/deps.sh installs python3-matplotlib; "
                 "run with /usr/bin/python3)")
    doc = json.load(open(out / "results.json"))
    if not doc["points"]:
        sys.exit(f"plot_sweep: {out} has no finished points yet")
    into = pathlib.Path(a.into) if a.into else out / "plots"
    into.mkdir(parents=True, exist_ok=True)
    fig = plot_curves(plt, doc, into)
    plot_losses(plt, out, doc, into)
    md = table(doc, a.alpha)
    (into / f"table_{doc['task']}.md").write_text(md)
    print(md)
    print(f"plot_sweep: {fig or '(no alpha points)'}, losses_{doc['task']}.png and "
          f"table_{doc['task']}.md in {into}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
