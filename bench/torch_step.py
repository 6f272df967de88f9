#!/usr/bin/env python3
"""The PyTorch peer of tools/bench_step: one whole training step (the forward pass of 2B images,
the losses, the backward pass and Adam) of each model with each regularizer, and peak memory,
printed as a table or as JSON in bench_step's format.

    python3 bench/torch_step.py --device cuda --json > torch_step.json
    python3 bench/torch_step.py --device cpu --threads 2 --size 64 --steps 3

The models are models/hdr_autoencoder.cpp and models/color_autoencoder.cpp layer for layer; the
script checks their parameter counts against ours (Table 2's count: weights, biases and batch
norm's scale, shift, running mean and running variance). The step is bench_step's:
  none        L = mse(f(x), y)
  otherwise   x and its partner T(x) (a random affine warp per image, losses/transform.cpp at
              scale 1) go through the network as one batch of 2B, L = 0.05 L_rec + 0.95 L_reg,
              L_rec = mse(f(x), y), L_reg = sum(m d^2) / max(1, C sum(m)) with m the warp's
              validity mask and d as in engine/backend.h:
                stability  d = f(x) - f(Tx)
                trans-inv  d = f(Tx) - T(f(x))
                jacobian   d = (f(Tx) - T(y)) - (f(x) - y)
Data is random (x ~ U(0, 1), y ~ U(-1, 1)); one warm-up step, then --repeat blocks of --steps
steps: ms_per_step is the median of the blocks' means, as in bench_step. The
warp is F.grid_sample on an affine grid (align_corners=True, zeros padding), which samples the
same points as our inverse map. Peak memory: torch.cuda.max_memory_allocated on CUDA, the
process's peak resident set on the CPU; neither is reset between configurations, as in
bench_step.
"""
import argparse
import json
import math
import os
import random
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Table 2's count (trainable + running statistics) and the trainable part alone.
EXPECTED_COUNT = {"hdr": 1268972, "color": 1568690}
EXPECTED_TRAINABLE = {"hdr": 1268236, "color": 1566290}
ALPHA = 0.95
REGS = ("none", "stability", "trans-inv", "jacobian")


def he_init(module, fan_in):
    """Model::add_conv / add_upconv: He-normal weights with our fan-in, zero biases."""
    nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_in))
    nn.init.zeros_(module.bias)
    return module


def conv(ci, co, k, stride=1):
    """add_conv: k x k, padding k // 2, with bias."""
    return he_init(nn.Conv2d(ci, co, k, stride=stride, padding=k // 2), ci * k * k)


def upconv(ci, co):
    """add_upconv: 4x4 transposed conv, stride 2, padding 1 (doubles the resolution)."""
    return he_init(nn.ConvTranspose2d(ci, co, 4, stride=2, padding=1), ci * 4)


def batch_norm(c):
    """add_batch_norm: momentum 0.1, eps 1e-5 (engine/ops.h), gamma 1, beta 0."""
    return nn.BatchNorm2d(c, eps=1e-5, momentum=0.1)


class HdrAutoencoder(nn.Module):
    """models/hdr_autoencoder.cpp."""
    TAU = 0.95
    LOG_EPS = 1.0 / 255.0
    in_channels, out_channels = 3, 3

    def __init__(self):
        super().__init__()
        K = 16
        widths = [K, 2 * K, 4 * K, 8 * K]
        self.enc = nn.ModuleList()
        cin = 3
        for w in widths:
            self.enc.append(nn.ModuleList([conv(cin, w, 3), conv(w, w, 3)]))
            cin = w
        self.latent = conv(8 * K, 8 * K, 3)
        self.latent_bn = batch_norm(8 * K)
        # Decoder stages indexed like ours: up[s], up_bn[s], fuse[s] for s = 0..3, run 3 -> 0.
        ins = [widths[1], widths[2], widths[3], 8 * K]  # stage s takes stage s+1's width
        self.up = nn.ModuleList([upconv(ins[s], widths[s]) for s in range(4)])
        self.up_bn = nn.ModuleList([batch_norm(widths[s]) for s in range(4)])
        self.fuse = nn.ModuleList([conv(2 * widths[s], widths[s], 3) for s in range(4)])
        self.out = conv(K + 3, 3, 1)

    def forward(self, x):
        h = x * 2.0 - 1.0
        skips = []
        for s in range(4):
            if s > 0:
                h = F.max_pool2d(h, 2, 2)
            h = F.relu(self.enc[s][0](h))
            h = F.relu(self.enc[s][1](h))
            skips.append(h)
        h = F.leaky_relu(self.latent_bn(self.latent(F.max_pool2d(h, 2, 2))), 0.2)
        for s in range(3, -1, -1):
            h = F.leaky_relu(self.up_bn[s](self.up[s](h)), 0.2)
            h = F.relu(self.fuse[s](torch.cat([h, skips[s]], 1)))
        prediction = self.out(torch.cat([h, x], 1))
        # Blend with the linearized input through the saturation mask (constants, no gradient).
        with torch.no_grad():
            a = ((x.amax(1, keepdim=True) - self.TAU) / (1.0 - self.TAU)).clamp_min(0.0)
            a3 = a.expand_as(x)
            x_log = torch.log(x * x + self.LOG_EPS)
            blend = (1.0 - a3) * x_log
        return blend + a3 * prediction


class ColorAutoencoder(nn.Module):
    """models/color_autoencoder.cpp."""
    in_channels, out_channels = 1, 2

    def __init__(self):
        super().__init__()
        K = 32
        # (ci, co, stride, upsample_before)
        specs = [
            (1, K, 2, False), (K, 2 * K, 1, False),
            (2 * K, 2 * K, 2, False), (2 * K, 4 * K, 1, False),
            (4 * K, 4 * K, 2, False), (4 * K, 8 * K, 1, False),
            (8 * K, 8 * K, 1, False), (8 * K, 4 * K, 1, False),
            (4 * K, 2 * K, 1, False), (2 * K, K, 1, True),
            (K, K, 1, False), (K, K // 2, 1, True),
            (K // 2, 2, 1, False),
        ]
        self.convs = nn.ModuleList([conv(ci, co, 3, st) for ci, co, st, _ in specs])
        # every layer but the output one (conv62) is followed by batch norm
        self.bns = nn.ModuleList([batch_norm(co) for _, co, _, _ in specs[:-1]])
        self.upsample_before = [u for _, _, _, u in specs]

    def forward(self, x):
        h = x
        n = len(self.convs)
        for i in range(n):
            if self.upsample_before[i]:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.convs[i](h)
            if i + 1 < n:
                h = F.relu(self.bns[i](h))
        return F.interpolate(h, size=x.shape[2:], mode="bilinear", align_corners=False)


def make_model(task):
    if task == "hdr":
        return HdrAutoencoder()
    if task == "color":
        return ColorAutoencoder()
    raise SystemExit(f"--models: unknown model '{task}' (expected hdr or color)")


def parameter_counts(model):
    """(trainable, Table 2's count = trainable + running mean and variance values)."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    running = sum(b.numel() for name, b in model.named_buffers()
                  if name.endswith("running_mean") or name.endswith("running_var"))
    return trainable, trainable + running


def transform_matrix(tx, ty, r_deg, z, hx_deg, hy_deg, width, height):
    """losses/transform.cpp: the inverse map (pixels, x = column) as [m0..m5]."""
    deg = math.pi / 180.0
    a, b = (hx_deg - r_deg) * deg, math.cos(hx_deg * deg)
    c, d = (hy_deg + r_deg) * deg, math.cos(hy_deg * deg)
    m1, m2 = z * math.cos(a) / b, z * math.sin(a) / b
    m4, m5 = z * math.sin(c) / d, z * math.cos(c) / d
    cx, cy = width / 2.0, height / 2.0
    return [m1, m2, m1 * (tx - cx) + m2 * (ty - cy) + cx,
            m4, m5, m4 * (tx - cx) + m5 * (ty - cy) + cy]


def random_thetas(n, height, width, rng, dev, scale=1.0):
    """n draws of sample_transform (Table 1's ranges at --transf-scale `scale`), as affine_grid
    thetas: our pixel-space inverse map conjugated into align_corners=True normalized space."""
    s = scale
    sx, sy = 2.0 / (width - 1), 2.0 / (height - 1)
    thetas = []
    for _ in range(n):
        p = [rng.uniform(-2 * s, 2 * s), rng.uniform(-2 * s, 2 * s), rng.uniform(-s, s),
             rng.uniform(1 - 0.03 * s, 1 + 0.03 * s), rng.uniform(-s, s), rng.uniform(-s, s)]
        m0, m1, m2, m3, m4, m5 = transform_matrix(*p, width, height)
        # pixel = (u + 1) / s  ->  u_in = s * (m (u_out + 1) / s + t) - 1
        thetas.append([[m0, m1 * sx / sy, sx * (m0 / sx + m1 / sy + m2) - 1.0],
                       [m3 * sy / sx, m4, sy * (m3 / sx + m4 / sy + m5) - 1.0]])
    return torch.tensor(thetas, dtype=torch.float32).to(dev, non_blocking=True)


def warp(img, grid):
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def reg_loss(kind, fx, ftx, y, grid, mask):
    """sum(mask d^2) / max(1, C sum(mask)) (engine/backend.h's RegLoss), composed from ops."""
    if kind == "stability":
        d = fx - ftx
    elif kind == "trans-inv":
        d = ftx - warp(fx, grid)
    else:  # jacobian
        with torch.no_grad():
            ty = warp(y, grid)
        d = (ftx - ty) - (fx - y)
    denom = (mask.sum() * fx.shape[1]).clamp_min(1.0)
    return (mask * d * d).sum() / denom


def peak_memory_mib(dev):
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / (1 << 20)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kilobytes on Linux


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bench_one(task, reg, dev, B, S, steps, fmt, compile_model=False, repeat=3):
    torch.manual_seed(1)
    rng = random.Random(1)
    model = make_model(task).to(dev, memory_format=fmt)
    model.train()
    trainable, count = parameter_counts(model)
    assert count == EXPECTED_COUNT[task] and trainable == EXPECTED_TRAINABLE[task], \
        f"{task}: {count} parameters ({trainable} trainable), expected " \
        f"{EXPECTED_COUNT[task]} ({EXPECTED_TRAINABLE[task]})"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    cin, cout = model.in_channels, model.out_channels
    if compile_model:  # the network under torch.compile (the losses and Adam stay eager)
        model = torch.compile(model)
    x = torch.rand(B, cin, S, S, device=dev).contiguous(memory_format=fmt)
    y = (torch.rand(B, cout, S, S, device=dev) * 2 - 1).contiguous(memory_format=fmt)

    def step():
        opt.zero_grad(set_to_none=True)
        if reg == "none":
            loss = F.mse_loss(model(x), y)
        else:
            theta = random_thetas(B, S, S, rng, dev)
            grid = F.affine_grid(theta, [B, cin, S, S], align_corners=True)
            with torch.no_grad():
                partner = warp(x, grid)
                # Our warp_valid_mask: the sample point lies inside the image.
                valid = (grid.abs() <= 1.0).all(-1).unsqueeze(1).to(x.dtype)
                both = torch.cat([x, partner], 0).contiguous(memory_format=fmt)
            out = model(both)
            fx, fpartner = out[:B], out[B:]
            l_rec = F.mse_loss(fx, y)
            l_reg = reg_loss(reg, fx, fpartner, y, grid, valid)
            loss = (1.0 - ALPHA) * l_rec + ALPHA * l_reg
        loss.backward()
        opt.step()

    step()
    if compile_model:
        step()  # compilation may take more than one call (the siamese batch is 2B)
    blocks = []
    for _ in range(repeat):
        sync(dev)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync(dev)
        blocks.append((time.perf_counter() - t0) * 1e3 / steps)
    ms = sorted(blocks)[(len(blocks) - 1) // 2]  # the median block (lower middle if even)
    return {"model": task, "reg": reg, "batch": B, "size": S, "ms_per_step": ms,
            "ms_per_step_blocks": blocks, "images_per_s": B / (ms * 1e-3),
            "peak_mib": peak_memory_mib(dev)}, (trainable, count)


def write_json(path, doc):
    """The whole document into path, atomically (called after every case with --out)."""
    if path:
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="auto", help="auto, cpu or cuda")
    ap.add_argument("--batch", type=int, default=8,
                    help="images per batch (each regularized step runs 2x through the network)")
    ap.add_argument("--size", type=int, default=128, help="image size")
    ap.add_argument("--steps", type=int, default=5,
                    help="timed steps per block (after one warm-up step)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed blocks per configuration; ms/step is the median of their means")
    ap.add_argument("--models", default="hdr,color", help="models to time, comma separated")
    ap.add_argument("--regs", default=",".join(REGS), help="regularizers to time, comma separated")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--channels-last", action="store_true",
                    help="model and batches in channels_last (NHWC) memory format")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--out", help="also write the JSON here, rewritten after every configuration")
    ap.add_argument("--compile", action="store_true",
                    help="the network under torch.compile (torch >= 2); peer name 'torch compile'")
    args = ap.parse_args()
    if args.compile and not hasattr(torch, "compile"):
        sys.exit(f"torch_step: --compile needs torch >= 2 (this is {torch.__version__})")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device not in ("cpu", "cuda"):
        ap.error(f"--device: expected auto, cpu or cuda, got '{args.device}'")
    dev = torch.device(args.device)
    # Exact float32 convolutions and matrix products, as Steady's default (TF32 off).
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    steps = max(1, args.steps)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    models = [m for m in args.models.split(",") if m]
    regs = [r for r in args.regs.split(",") if r]
    for m in models:
        make_model(m)  # exits on an unknown name
        if args.size % (16 if m == "hdr" else 8):
            ap.error(f"--size must be a multiple of {16 if m == 'hdr' else 8} for the {m} model")
    for r in regs:
        if r not in REGS:
            ap.error(f"--regs: unknown regularizer '{r}' (this peer has {', '.join(REGS)})")

    results, counts = [], {}
    if not args.json:
        print(f"{'model':<6} {'reg':<16} {'ms/step':>10} {'images/s':>12} {'peak MiB':>14}", flush=True)
    def document():
        return {"device": args.device,
                "peer": f"torch {torch.__version__}" + (" compile" if args.compile else ""),
                "threads": torch.get_num_threads(), "channels_last": args.channels_last,
                "parameters": {t: c[1] for t, c in counts.items()}, "results": results}

    for task in models:
        for reg in regs:
            try:
                r, counts[task] = bench_one(task, reg, dev, args.batch, args.size, steps, fmt,
                                            args.compile, max(1, args.repeat))
            except Exception as e:  # recorded; the other configurations still run
                first_line = (str(e).splitlines() or [""])[0][:200]
                r = {"model": task, "reg": reg, "error": f"{type(e).__name__}: {first_line}"}
                print(f"torch_step: {task} {reg}: {r['error']}", file=sys.stderr)
            results.append(r)
            write_json(args.out, document())
            if not args.json and "error" not in r:
                print(f"{task:<6} {reg:<16} {r['ms_per_step']:10.1f} {r['images_per_s']:12.1f} "
                      f"{r['peak_mib']:14.1f}", flush=True)
    if args.json:
        print(json.dumps(document(), indent=1))
    else:
        for task, (trainable, count) in counts.items():
            print(f"{task} parameters: {count} ({trainable} trainable + batch-norm running "
                  f"statistics), as ours")
        print(f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads"
              + (", channels_last" if args.channels_last else ""))


if __name__ == "__main__":
    main()
