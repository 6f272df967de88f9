#!/usr/bin/env python3
"""Pairs bench_ops JSON with its PyTorch peer's JSON by op name and prints a markdown table:
our time, PyTorch's time, and the ratio torch_ms / steady_ms (above 1: Steady is faster).

    python3 bench/compare.py steady.json torch.json
"""
import json
import sys


def main():
    ours = json.load(open(sys.argv[1]))
    peer = json.load(open(sys.argv[2]))
    theirs = {r["name"]: r for r in peer["results"]}
    print(f"| op | Steady ms | {peer.get('peer', 'torch')} ms | ratio (torch/steady) | Steady GB/s |")
    print("|---|---:|---:|---:|---:|")
    for r in ours["results"]:
        t = theirs.get(r["name"])
        tms = f"{t['ms']:.3f}" if t else "-"
        ratio = f"{t['ms'] / r['ms']:.2f}" if t else "-"
        print(f"| {r['name']} | {r['ms']:.3f} | {tms} | {ratio} | {r['gbps']:.2f} |")


if __name__ == "__main__":
    main()
