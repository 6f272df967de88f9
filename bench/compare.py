#!/usr/bin/env python3
"""Pairs bench_ops JSON with its PyTorch peer's JSON (bench/torch_ops.py) by op name and prints
a markdown table: our time, then for each of the peer's modes its time and the ratio
torch_ms / steady_ms (above 1: Steady is faster), and the bandwidth our op reaches.

    python3 bench/compare.py steady.json torch.json
"""
import json
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: compare.py steady.json torch.json")
    ours = json.load(open(sys.argv[1]))
    peer = json.load(open(sys.argv[2]))
    runs = peer.get("runs") or [{"mode": "eager", "results": peer["results"]}]
    modes = [r["mode"] for r in runs]
    by_mode = {r["mode"]: {x["name"]: x for x in r.get("results", [])} for r in runs}
    name = peer.get("peer", "torch")
    head = " | ".join(f"{name} {m} ms (ratio)" for m in modes)
    print(f"| op | Steady ms | {head} | Steady GB/s |")
    print("|---|---:|" + "---:|" * len(modes) + "---:|")
    for r in ours["results"]:
        cells = []
        for m in modes:
            t = by_mode[m].get(r["name"])
            cells.append(f"{t['ms']:.3f} ({t['ms'] / r['ms']:.2f})" if t else "-")
        gbps = f"{r['gbps']:.2f}" if r.get("bytes") else "-"
        print(f"| {r['name']} | {r['ms']:.3f} | {' | '.join(cells)} | {gbps} |")
    for r in runs:
        if r.get("skipped"):
            print(f"\n{name} {r['mode']}: not run ({r['skipped']})")


if __name__ == "__main__":
    main()
