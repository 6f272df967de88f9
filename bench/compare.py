#!/usr/bin/env python3
"""Pairs Steady's benchmark JSON with its PyTorch peer's and prints a markdown table with the
ratio torch_ms / steady_ms (above 1: Steady is faster).

    python3 bench/compare.py steady_ops.json torch_ops.json     # bench_ops, bench/torch_ops.py
    python3 bench/compare.py steady_step.json torch_step.json   # bench_step, bench/torch_step.py

Ops are paired by name, with one column per peer mode (eager, channels_last, ...); training
steps by model and regularizer.
"""
import json
import sys


def compare_ops(ours, peer):
    runs = peer.get("runs") or [{"mode": "eager", "results": peer["results"]}]
    modes = [r["mode"] for r in runs]
    by_mode = {r["mode"]: {x["name"]: x for x in r.get("results", [])} for r in runs}
    name = peer.get("peer", "torch")
    head = " | ".join(f"{name} {m} ms (ratio)" for m in modes)
    print(f"| op | Steady ms | {head} | Steady GB/s |")
    print("|---|---:|" + "---:|" * len(modes) + "---:|")
    for r in ours["results"]:
        if "error" in r:
            print(f"| {r['name']} | failed: {r['error']} |" + " |" * (len(modes) + 1))
            continue
        cells = []
        for m in modes:
            t = by_mode[m].get(r["name"])
            ok = t and "error" not in t
        cells.append(f"{t['ms']:.3f} ({t['ms'] / r['ms']:.2f})" if ok else "-")
        gbps = f"{r['gbps']:.2f}" if r.get("bytes") else "-"
        print(f"| {r['name']} | {r['ms']:.3f} | {' | '.join(cells)} | {gbps} |")
    for r in runs:
        if r.get("skipped"):
            print(f"\n{name} {r['mode']}: not run ({r['skipped']})")


def compare_steps(ours, peer):
    theirs = {(r["model"], r["reg"]): r for r in peer["results"] if "error" not in r}
    name = peer.get("peer", "torch")
    graph = any("graph_ms_per_step" in r for r in ours["results"])
    extra = " Steady graph ms/step | ratio (torch/graph) |" if graph else ""
    print(f"| model | reg | batch x size | Steady ms/step | {name} ms/step | ratio (torch/steady) |"
          f"{extra} Steady peak MiB | {name} peak MiB |")
    print("|---|---|---|---:|---:|---:|" + ("---:|---:|" if graph else "") + "---:|---:|")
    for r in ours["results"]:
        if "error" in r:
            print(f"| {r['model']} | {r['reg']} | failed: {r['error']} |" + " |" * (5 + 2 * graph))
            continue
        t = theirs.get((r["model"], r["reg"]))
        tms = f"{t['ms_per_step']:.1f}" if t else "-"
        ratio = f"{t['ms_per_step'] / r['ms_per_step']:.2f}" if t else "-"
        cells = ""
        if graph:
            g = r.get("graph_ms_per_step")
            cells = (f" {g:.1f} |" if g else " - |") + \
                    (f" {t['ms_per_step'] / g:.2f} |" if g and t else " - |")
        tmib = f"{t['peak_mib']:.0f}" if t else "-"
        print(f"| {r['model']} | {r['reg']} | {r['batch']} x {r['size']} | {r['ms_per_step']:.1f} "
              f"| {tms} | {ratio} |{cells} {r['peak_mib']:.0f} | {tmib} |")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py steady.json torch.json")
    ours = json.load(open(sys.argv[1]))
    peer = json.load(open(sys.argv[2]))
    if ours["results"] and "model" in ours["results"][0]:
        compare_steps(ours, peer)
    else:
        compare_ops(ours, peer)


if __name__ == "__main__":
    main()
