#!/usr/bin/env python3
"""The PyTorch peer of tools/bench_ops: the same ops at the same sizes, median of --repeat runs
after one warm-up, printed as JSON in bench_ops' format so bench/compare.py can pair them.

    python3 bench/torch_ops.py --device cpu --threads 2 > torch.json

Names must match tools/bench_ops.cpp exactly. The warp is F.grid_sample on an affine grid
(align_corners=True, zeros padding), which samples the same points as our inverse map.
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(1234)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    results = []

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def bench(name, nbytes, fn):
        if args.only and args.only not in name:
            return
        fn()
        sync()
        ms = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            sync()
            ms.append((time.perf_counter() - t0) * 1e3)
        m = statistics.median(ms)
        results.append({"name": name, "ms": m, "bytes": nbytes, "gbps": nbytes / (m * 1e-3) / 1e9})

    def rnd(*shape, lo=-1.0, hi=1.0, grad=False):
        t = (torch.rand(*shape, device=dev) * (hi - lo) + lo)
        if len(shape) == 4:
            t = t.contiguous(memory_format=fmt)
        return t.requires_grad_(grad)

    def nb(*shapes):
        return sum(4.0 * math.prod(s) for s in shapes)

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

    print(json.dumps({"device": args.device, "peer": f"torch {torch.__version__}",
                      "threads": torch.get_num_threads(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
