#!/usr/bin/env python3
"""The PyTorch peer of tools/bench_ops: the same ops at the same sizes and the same conv-stack
training step, median of --repeat runs after one warm-up, printed as JSON that bench/compare.py
pairs with bench_ops' by name.

    python3 bench/torch_ops.py --device cuda --modes eager,channels_last,compile,graph > torch.json

Modes, each a separate run in the output:
  eager          every op and the step, NCHW tensors
  channels_last  the same in channels_last (NHWC) memory format, cuDNN's preferred layout
  compile        the step with the network and its loss under torch.compile (needs torch >= 2)
  graph          the step captured whole into a CUDA graph (torch.cuda.graph, capturable Adam),
                 paired with bench_ops' "... graph" row; CUDA only
A mode that cannot run here is listed with the reason instead of results.

Names must match tools/bench_ops.cpp exactly. The warp is F.grid_sample on an affine grid
(align_corners=True, zeros padding), which samples the same points as our inverse map.
"""
import argparse
import json
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F

from torch_step import write_json  # the sibling script: one atomic JSON writer

STEP_NAME = "conv_stack_step 8x3x128x128 4x conv3x3 32ch adam"


class Bench:
    """Times callables: median of `repeat` runs after one warm-up, synchronized on CUDA."""

    def __init__(self, dev, repeat, only, on_result=None):
        self.dev, self.repeat, self.only = dev, repeat, only
        self.on_result = on_result or (lambda results: None)
        self.results = []

    def sync(self):
        if self.dev.type == "cuda":
            torch.cuda.synchronize()

    def __call__(self, name, nbytes, fn):
        if self.only and self.only not in name:
            return
        fn()
        self.sync()
        ms = []
        for _ in range(self.repeat):
            t0 = time.perf_counter()
            fn()
            self.sync()
            ms.append((time.perf_counter() - t0) * 1e3)
        m = statistics.median(ms)
        self.results.append({"name": name, "ms": m, "bytes": nbytes,
                             "gbps": nbytes / (m * 1e-3) / 1e9 if nbytes else 0.0})
        self.on_result(self.results)


def nb(*shapes):
    return sum(4.0 * math.prod(s) for s in shapes)


def random_tensor(dev, fmt, shape, lo=-1.0, hi=1.0, grad=False):
    t = torch.rand(*shape, device=dev) * (hi - lo) + lo
    if len(shape) == 4:
        t = t.contiguous(memory_format=fmt)
    return t.requires_grad_(grad)


def time_ops(bench, dev, fmt):
    def rnd(*shape, lo=-1.0, hi=1.0, grad=False):
        return random_tensor(dev, fmt, shape, lo, hi, grad)

    xs, ws = (8, 64, 128, 128), (64, 64, 3, 3)
    x, w, b = rnd(*xs, grad=True), rnd(*ws, lo=-0.05, hi=0.05, grad=True), rnd(64, grad=True)

    def conv_fwd():
        with torch.no_grad():
            F.conv2d(x, w, b, padding=1)

    bench("conv2d_fwd 8x64x128x128 k3 64->64", nb(xs, ws, xs), conv_fwd)
    bench("conv2d_fwd_bwd 8x64x128x128 k3 64->64", nb(xs, ws, xs, xs, xs, ws),
          lambda: F.conv2d(x, w, b, padding=1).sum().backward())

    xs, ws, ys = (8, 64, 32, 32), (64, 32, 4, 4), (8, 32, 64, 64)
    xt, wt, bt = rnd(*xs, grad=True), rnd(*ws, lo=-0.05, hi=0.05, grad=True), rnd(32, grad=True)
    bench("conv_transpose2d_fwd_bwd 8x64x32x32 k4s2 64->32", nb(xs, ws, ys, ys, xs, ws),
          lambda: F.conv_transpose2d(xt, wt, bt, stride=2, padding=1).sum().backward())

    big, half = (8, 32, 128, 128), (8, 32, 64, 64)
    a, c, ah = rnd(*big), rnd(*big), rnd(*half)
    with torch.no_grad():
        copy_dst = torch.empty_like(a)
        bench("copy 8x32x128x128", nb(big, big), lambda: copy_dst.copy_(a))
        bench("max_pool2d k2s2 8x32x128x128", nb(big, half), lambda: F.max_pool2d(a, 2, 2))
        bench("upsample_nearest2d x2 8x32x64x64", nb(half, big),
              lambda: F.interpolate(ah, scale_factor=2, mode="nearest"))
    abh, abf = rnd(8, 2, 64, 64, grad=True), rnd(8, 2, 128, 128)
    with torch.no_grad():
        bench("resize_bilinear 8x2x64x64->128", nb((8, 2, 64, 64), (8, 2, 128, 128)),
              lambda: F.interpolate(abh, size=(128, 128), mode="bilinear", align_corners=False))
    up = F.interpolate(abh, size=(128, 128), mode="bilinear", align_corners=False)
    bench("resize_bilinear_bwd 8x2x128->64", nb((8, 2, 128, 128), (8, 2, 64, 64)),
          lambda: torch.autograd.grad(up, abh, abf, retain_graph=True))
    with torch.no_grad():
        bench("concat_channels 2x 8x32x128x128", nb(big, big, big, big), lambda: torch.cat([a, c], 1))
    gamma, beta = rnd(32, grad=True), rnd(32, grad=True)
    rm, rv = torch.zeros(32, device=dev), torch.ones(32, device=dev)
    with torch.no_grad():
        bench("batch_norm_train 8x32x128x128", nb(big, big, big),
              lambda: F.batch_norm(a, rm, rv, gamma, beta, training=True))
    ag = a.clone().requires_grad_(True)
    bn_out = F.batch_norm(ag, rm, rv, gamma, beta, training=True)
    bench("batch_norm_bwd 8x32x128x128", nb(big, big, big, big),
          lambda: torch.autograd.grad(bn_out, [ag, gamma, beta], c, retain_graph=True))
    with torch.no_grad():
        bench("relu 8x32x128x128", nb(big, big), lambda: F.relu(a))
        bench("add 8x32x128x128", nb(big, big, big), lambda: a + c)
        bench("sum 8x32x128x128", nb(big), lambda: a.sum())
    p = torch.nn.Parameter(rnd(1568698))
    p.grad = rnd(1568698)
    opt = torch.optim.Adam([p], lr=1e-3, foreach=False)
    n = (1568698,)
    bench("adam 1568698 params", nb(n, n, n, n, n, n, n), opt.step)

    # Warp: our inverse map in pixels -> grid_sample's normalized coordinates (align_corners=True).
    N, C, H, W = 16, 3, 128, 128
    img = rnd(N, C, H, W, grad=True)
    with torch.no_grad():
        copy_dst = torch.empty_like(img)
        bench("copy 16x3x128x128", nb((N, C, H, W), (N, C, H, W)), lambda: copy_dst.copy_(img))
    theta = torch.zeros(N, 2, 3, device=dev)
    ang = (torch.rand(N, device=dev) * 2 - 1) * math.pi / 180
    theta[:, 0, 0], theta[:, 0, 1] = torch.cos(ang), -torch.sin(ang)
    theta[:, 1, 0], theta[:, 1, 1] = torch.sin(ang), torch.cos(ang)
    theta[:, :, 2] = (torch.rand(N, 2, device=dev) * 4 - 2) / 64
    grid = F.affine_grid(theta, (N, C, H, W), align_corners=True)
    with torch.no_grad():
        bench("warp_affine_fwd 16x3x128x128", nb((N, C, H, W), (N, C, H, W)),
              lambda: F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True))
    warped = F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    gy = rnd(N, C, H, W)
    bench("warp_affine_bwd 16x3x128x128", nb((N, C, H, W), (N, C, H, W)),
          lambda: torch.autograd.grad(warped, img, gy, retain_graph=True))
    fx, ftx = rnd(N, C, H, W, grad=True), rnd(N, C, H, W, grad=True)
    mask = torch.ones(N, 1, H, W, device=dev)

    def trans_inv():
        d = ftx - F.grid_sample(fx, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
        (mask * d * d).mean().backward()

    bench("reg_loss_composed trans-inv 16x3x128x128", nb(*[(N, C, H, W)] * 4), trans_inv)


def conv_stack(dev, fmt):
    """bench_ops' ConvStack: 3x3 convolutions 3 -> 32 -> 32 -> 32 -> 3 with ReLU between."""
    channels = [3, 32, 32, 32, 3]
    layers = []
    for i in range(4):
        conv = torch.nn.Conv2d(channels[i], channels[i + 1], 3, padding=1)
        torch.nn.init.kaiming_normal_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
        layers.append(conv)
        if i < 3:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers).to(dev, memory_format=fmt)


def time_step(bench, dev, fmt, mode):
    """The conv-stack training step: forward, MSE, backward, Adam."""
    x = random_tensor(dev, fmt, (8, 3, 128, 128), 0, 1)
    target = random_tensor(dev, fmt, (8, 3, 128, 128), 0, 1)
    net = conv_stack(dev, fmt)
    if mode == "graph":
        # Whole-network capture as in PyTorch's CUDA-graph notes: warm up on a side stream,
        # capture forward, backward and a capturable Adam, then replay.
        opt = torch.optim.Adam(net.parameters(), lr=1e-4, capturable=True)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                F.mse_loss(net(x), target).backward()
                opt.step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            F.mse_loss(net(x), target).backward()
            opt.step()
        bench(STEP_NAME + " graph", 0, graph.replay)
        return
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)

    def loss_of(inp, tgt):
        return F.mse_loss(net(inp), tgt)

    loss_fn = torch.compile(loss_of) if mode == "compile" else loss_of

    def step():
        opt.zero_grad()
        loss_fn(x, target).backward()
        opt.step()

    if mode == "compile":
        step()  # compiles outside the timed runs
    bench(STEP_NAME, 0, step)


def why_not(mode, dev):
    """Why `mode` cannot run here, or None when it can."""
    if mode == "graph" and dev.type != "cuda":
        return "CUDA graphs need a CUDA device"
    if mode == "compile" and not hasattr(torch, "compile"):
        return f"torch.compile needs torch >= 2 (this is {torch.__version__})"
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--modes", default="eager", help="comma separated: eager,channels_last,compile,graph")
    ap.add_argument("--only", default="")
    ap.add_argument("--out", help="also write the JSON here, rewritten after every op")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    # Exact float32 convolutions and matrix products, as Steady's default (TF32 off).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    runs = []

    def document(current=None):
        done = runs + ([current] if current else [])
        return {"device": args.device, "peer": f"torch {torch.__version__}",
                "threads": torch.get_num_threads(), "runs": done}

    for mode in args.modes.split(","):
        if mode not in ("eager", "channels_last", "compile", "graph"):
            ap.error(f"unknown mode '{mode}'")
        reason = why_not(mode, dev)
        if reason:
            runs.append({"mode": mode, "skipped": reason})
            continue
        torch.manual_seed(1234)
        bench = Bench(dev, args.repeat, args.only,
                      lambda results: write_json(args.out, document({"mode": mode, "results": results})))
        fmt = torch.channels_last if mode == "channels_last" else torch.contiguous_format
        try:
            if mode in ("eager", "channels_last"):
                time_ops(bench, dev, fmt)
            time_step(bench, dev, fmt, mode)
        except Exception as e:  # a mode that fails (say, no compiler for torch.compile) is reported
            first_line = (str(e).splitlines() or [""])[0][:200]
            runs.append({"mode": mode, "skipped": f"{type(e).__name__}: {first_line}",
                         "results": bench.results})
            continue
        runs.append({"mode": mode, "results": bench.results})
        write_json(args.out, document())

    write_json(args.out, document())
    print(json.dumps(document(), indent=1))


if __name__ == "__main__":
    main()
