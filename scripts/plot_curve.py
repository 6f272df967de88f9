#!/usr/bin/env python3
"""Training curves of runs with --val: the training reconstruction loss (mean of each log row)
and the validation loss val_rec against the step, one panel per run, the best validation marked.

    scripts/plot_curve.py OUT.png RUN_DIR [RUN_DIR ...]    (each RUN_DIR holds a log.csv)

Needs matplotlib (Debian's python3-matplotlib, /usr/bin/python3).
"""
import csv
import pathlib
import sys


def read(run):
    steps, rec, vsteps, val = [], [], [], []
    with open(pathlib.Path(run) / "log.csv") as f:
        for row in csv.DictReader(f):
            if row.get("rec"):
                steps.append(int(row["step"]))
                rec.append(float(row["rec"]))
            if row.get("val_rec"):
                vsteps.append(int(row["step"]))
                val.append(float(row["val_rec"]))
    if not val:
        sys.exit(f"plot_curve: {run}/log.csv has no val_rec (train with --val)")
    return steps, rec, vsteps, val


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.strip())
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = sys.argv[2:]
    fig, axes = plt.subplots(1, len(runs), figsize=(5.5 * len(runs), 3.8), squeeze=False)
    for ax, run in zip(axes[0], runs):
        steps, rec, vsteps, val = read(run)
        # The training loss is noisy per row: a running mean over a 25th of the rows beside it.
        k = max(1, len(rec) // 25)
        smooth = [sum(rec[max(0, i - k + 1):i + 1]) / len(rec[max(0, i - k + 1):i + 1]) for i in range(len(rec))]
        ax.plot(steps, rec, color="0.8", lw=0.5, label="training rec (per log row)")
        ax.plot(steps, smooth, color="black", lw=1, label=f"training rec (mean of {k} rows)")
        ax.plot(vsteps, val, "o-", color="tab:red", ms=3, label="validation rec")
        b = min(range(len(val)), key=val.__getitem__)
        ax.plot([vsteps[b]], [val[b]], "*", color="tab:red", ms=12,
                label=f"best: step {vsteps[b]}, {val[b]:.4f}")
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("reconstruction loss (log)")
        ax.set_title(pathlib.Path(run).name)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(sys.argv[1], dpi=120)


if __name__ == "__main__":
    main()
