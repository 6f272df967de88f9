#!/usr/bin/env python3
"""sweep: the paper's experiment grid (Sec. 4.2-4.3, Figs. 4 and 5) in one command.

For one task (hdr or color): pre-train once per seed (or start every seed from --base), fine-tune
each point of settings x alpha x seeds from it, evaluate every point on the same test sequences
with eval_video's protocol, and write one results table (OUT/results.csv and OUT/results.json:
setting, alpha, seed, PSNR, S, the equivariance error, training time).

    scripts/sweep.py run OUT --task hdr --preset cpu --settings none,trans-inv,jacobian \\
        --alphas 0.5,0.95,0.998 --seeds 1,2,3 --jobs 2
    scripts/sweep.py plan OUT ...      # the same, printed as shell commands, one per line
    scripts/sweep.py collect OUT       # merge the points' results into the table
    scripts/plot_sweep.py OUT          # Fig. 4/5-style plots and a Table 3/4-style table

Resumable: every step writes its result last and is skipped when that result exists, so a killed
sweep started again re-runs nothing that finished (an interrupted training continues with
--resume). `plan` prints stages (`# stage N` lines): the lines within a stage are independent and
may run anywhere that sees OUT (a Slurm job array, GNU parallel over ssh); run a stage after the
one before it, then `collect`. `run` does the same with --jobs workers (on several GPUs, one
worker per device: --gpus 0,1,2,3).

On the CPU a point's numbers are bitwise reproducible for a given number of threads per step
(`run --jobs N` gives each step OMP_NUM_THREADS = cores / N; set it the same way for plan lines).

Setting `none` is plain fine-tuning (alpha has no effect: it runs once per seed, listed at
alpha 0); the others are train_* --reg values: augment, stability-noise, stability, trans-inv,
jacobian. The data: HDR from gen_procedural (made once in OUT/data, or --data/--test); colorization
from --data (a folder of photos) and --test (videos or frame folders).
"""
import argparse
import concurrent.futures
import csv
import json
import math
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import threading
import time

SETTINGS = ["none", "augment", "stability-noise", "stability", "trans-inv", "jacobian"]
# Scale presets. paper: Sec. 4 (10,000 HDR images / 20,000 faces at 128x128; the paper trains for
# 50 epochs, fine-tuning length is ours); cpu: what a 2-core machine does in hours; tiny: the test.
PRESETS = {
    "tiny": dict(size=32, train=16, test_seqs=2, frames=8, base_epochs=1, tune_epochs=1, batch=4,
                 base_lr=2e-3, tune_lr=2e-4),
    "cpu": dict(size=64, train=1024, test_seqs=8, frames=100, base_epochs=8, tune_epochs=2,
                batch=8, base_lr=2e-3, tune_lr=2e-4),
    "paper": dict(size=128, train=10000, test_seqs=50, frames=200, base_epochs=50, tune_epochs=10,
                  batch=8, base_lr=1e-4, tune_lr=1e-4),
}
# eval_video's columns kept per point (the model's row, mean over the test sequences).
METRICS = ["psnr", "psnr_display", "s", "equiv", "flicker", "hf"]


def point_name(setting, alpha, seed):
    return f"{setting}_a{alpha:g}_s{seed}"


def points(cfg):
    out = []
    for seed in cfg["seeds"]:
        for setting in cfg["settings"]:
            for alpha in ([0.0] if setting == "none" else cfg["alphas"]):
                out.append((setting, alpha, seed))
    return out


def me():
    return [sys.executable, os.path.abspath(__file__)]


# ---------------------------------------------------------------- configuration
def make_config(a):
    preset = dict(PRESETS[a.preset])
    for key in preset:
        v = getattr(a, key.replace("-", "_"), None)
        if v is not None:
            preset[key] = v
    cfg = dict(task=a.task, preset=a.preset, bin=os.path.abspath(a.bin), device=a.device,
               settings=[s for s in a.settings.split(",") if s],
               alphas=[float(x) for x in a.alphas.split(",") if x],
               seeds=[int(x) for x in a.seeds.split(",") if x],
               data=os.path.abspath(a.data) if a.data else "",
               test=[os.path.abspath(t) for t in a.test] if a.test else [],
               base=os.path.abspath(a.base) if a.base else "",
               transf_scale=a.transf_scale, bn=a.bn, eval_args=shlex.split(a.eval_args or ""),
               **preset)
    for s in cfg["settings"]:
        if s not in SETTINGS:
            sys.exit(f"sweep: unknown setting '{s}' (expected {', '.join(SETTINGS)})")
    for x in cfg["alphas"]:
        if not 0 <= x <= 1:
            sys.exit(f"sweep: alpha {x} is not in [0, 1]")
    if not cfg["seeds"]:
        sys.exit("sweep: --seeds is empty")
    if a.task == "color" and (not cfg["data"] or not cfg["test"]):
        sys.exit("sweep: --task color needs --data PHOTOS and --test SEQ [SEQ ...]")
    for tool in (f"train_{a.task}", "eval_video") + (("gen_procedural",) if a.task == "hdr" else ()):
        if not os.access(os.path.join(cfg["bin"], tool), os.X_OK):
            sys.exit(f"sweep: {tool} not found in --bin {cfg['bin']} (build first: make build)")
    return cfg


def save_config(out, cfg):
    out.mkdir(parents=True, exist_ok=True)
    path = out / "sweep.json"
    if path.exists():
        old = json.load(open(path))
        if old != cfg:
            diff = [k for k in cfg if old.get(k) != cfg[k]]
            sys.exit(f"sweep: {out} holds a sweep with other settings ({', '.join(diff)}); "
                     "use another OUT, or the same arguments to continue it")
        return
    json.dump(cfg, open(path, "w"), indent=1)


def load_config(out):
    path = pathlib.Path(out) / "sweep.json"
    if not path.exists():
        sys.exit(f"sweep: {path} not found (run `sweep.py run` or `plan` first)")
    return json.load(open(path))


# ---------------------------------------------------------------- steps
def sh(cmd, log, env=None):
    """Runs cmd with its output in log; exits with a clear line when it fails."""
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0:
        tail = "".join(open(log).readlines()[-3:]).strip()
        raise SystemExit(f"sweep: {' '.join(map(shlex.quote, cmd))} failed ({r.returncode}); "
                         f"{log}:\n{tail}")


def train(cfg, out_dir, log, extra, epochs, lr, seed, data):
    """A training into out_dir, continued with --resume when a killed one left a checkpoint."""
    done = out_dir / "done"
    if done.exists():
        return
    resume = ["--resume"] if (out_dir / "last.safetensors").exists() else ["--overwrite"]
    cmd = [os.path.join(cfg["bin"], f"train_{cfg['task']}"), data, "--device", cfg["device"],
           "--size", str(cfg["size"]), "--batch", str(cfg["batch"]), "--epochs", str(epochs),
           "--lr", f"{lr:g}", "--seed", str(seed), "--out", str(out_dir)] + extra + resume
    t0 = time.time()
    sh(cmd, log)
    done.write_text(json.dumps({"seconds": time.time() - t0}))


def train_data(out, cfg):
    return cfg["data"] or str(out / "data")


def test_sequences(out, cfg):
    if cfg["test"]:
        return cfg["test"]
    return sorted(str(p) for p in (out / "data" / "test").iterdir() if p.is_dir())


def step_prepare(out, cfg):
    if cfg["task"] != "hdr" or cfg["data"]:
        return
    data = out / "data"
    if (data / ".done").exists():
        return
    if data.exists():  # a generation that was killed: start it over
        shutil.rmtree(data)
    sh([os.path.join(cfg["bin"], "gen_procedural"), str(data), "--train", str(cfg["train"]),
        "--test-seqs", str(cfg["test_seqs"]), "--frames", str(cfg["frames"]), "--size",
        str(cfg["size"]), "--seed", "100", "--quiet"], out / "data.log")
    (data / ".done").write_text("")


def base_checkpoint(out, cfg, seed):
    return cfg["base"] or str(out / f"base_s{seed}" / "last.safetensors")


def step_base(out, cfg, seed):
    if cfg["base"]:
        return
    d = out / f"base_s{seed}"
    d.mkdir(parents=True, exist_ok=True)
    train(cfg, d, out / f"base_s{seed}.log", [], cfg["base_epochs"], cfg["base_lr"], seed,
          train_data(out, cfg))


def step_point(out, cfg, setting, alpha, seed):
    name = point_name(setting, alpha, seed)
    d = out / "points" / name
    result = d / "result.json"
    if result.exists():
        return
    d.mkdir(parents=True, exist_ok=True)
    reg = ["--reg", setting] + (["--alpha", f"{alpha:g}"] if setting != "none" else []) + \
          ["--transf-scale", f"{cfg['transf_scale']:g}", "--bn", cfg.get("bn", "batch"),
           "--init", base_checkpoint(out, cfg, seed)]
    run_dir = d / "run"
    train(cfg, run_dir, d / "train.log", reg, cfg["tune_epochs"], cfg["tune_lr"], seed,
          train_data(out, cfg))
    seqs = test_sequences(out, cfg)
    evaluation = d / "eval.json"
    if not evaluation.exists():
        log = d / "eval.log"
        cmd = [os.path.join(cfg["bin"], "eval_video")] + seqs + [
            "--device", cfg["device"], "--json", "--model", str(run_dir / "last.safetensors")] + \
            cfg.get("eval_args", [])
        with open(str(evaluation) + ".tmp", "w") as f, open(log, "w") as err:
            r = subprocess.run(cmd, stdout=f, stderr=err)
        if r.returncode != 0:
            raise SystemExit(f"sweep: eval_video failed for {name} ({r.returncode}); see {log}")
        os.replace(str(evaluation) + ".tmp", evaluation)
    ev = json.load(open(evaluation))
    values = {}
    for key in METRICS:
        xs = []
        for s in ev["sequences"]:
            row = next(r for r in s["rows"] if r["name"] == "m1")
            v = row["values"].get(key)
            if v is not None and math.isfinite(v):
                xs.append(v)
        values[key] = sum(xs) / len(xs) if xs else None
    seconds = json.loads((run_dir / "done").read_text())["seconds"]
    record = dict(setting=setting, alpha=alpha, seed=seed, **values, train_seconds=seconds,
                  sequences=len(ev["sequences"]))
    tmp = str(result) + ".tmp"
    json.dump(record, open(tmp, "w"), indent=1)
    os.replace(tmp, result)


# ---------------------------------------------------------------- commands
def stages(out, cfg):
    """[(title, [argv of `sweep.py step ...`])] in the order they must run."""
    o = str(out)
    s = [("data", [me() + ["step", o, "prepare"]])]
    if not cfg["base"]:
        s.append(("pre-training, one per seed",
                  [me() + ["step", o, "base", "--seed", str(seed)] for seed in cfg["seeds"]]))
    s.append(("fine-tuning and evaluation, one per point",
              [me() + ["step", o, "point", "--setting", st, "--alpha", f"{al:g}", "--seed", str(sd)]
               for st, al, sd in points(cfg)]))
    return s


def collect(out, cfg, quiet=False):
    rows, missing = [], []
    for setting, alpha, seed in points(cfg):
        f = out / "points" / point_name(setting, alpha, seed) / "result.json"
        if f.exists():
            rows.append(json.load(open(f)))
        else:
            missing.append(point_name(setting, alpha, seed))
    fields = ["setting", "alpha", "seed"] + METRICS + ["train_seconds", "sequences"]
    with open(out / "results.csv.tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k) for k in fields})
    os.replace(out / "results.csv.tmp", out / "results.csv")
    doc = {"task": cfg["task"], "preset": cfg["preset"], "config": cfg, "points": rows,
           "missing": missing}
    json.dump(doc, open(out / "results.json.tmp", "w"), indent=1)
    os.replace(out / "results.json.tmp", out / "results.json")
    if not quiet:
        print(f"sweep: {len(rows)} points in {out}/results.csv"
              + (f", {len(missing)} not done yet" if missing else ""))
    return missing


def cmd_run(a):
    out = pathlib.Path(a.out)
    cfg = make_config(a)
    save_config(out, cfg)
    gpus = [g for g in (a.gpus or "").split(",") if g]
    workers = len(gpus) if gpus else a.jobs
    free = list(gpus)
    lock = threading.Lock()
    total = sum(len(c) for _, c in stages(out, cfg))
    done = [0]

    def run_one(argv):
        env = dict(os.environ)
        with lock:
            gpu = free.pop() if gpus else None
        if gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = gpu
        elif workers > 1 and "OMP_NUM_THREADS" not in env:
            env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
        try:
            r = subprocess.run(argv, env=env, capture_output=True, text=True)
        finally:
            if gpu is not None:
                with lock:
                    free.append(gpu)
        with lock:
            done[0] += 1
            print(f"[{done[0]}/{total}] {' '.join(argv[3:])}: "
                  f"{'ok' if r.returncode == 0 else 'FAILED'}", flush=True)
        if r.returncode != 0:
            raise SystemExit((r.stderr or r.stdout).strip())

    t0 = time.time()
    for title, cmds in stages(out, cfg):
        print(f"sweep: {title} ({len(cmds)})", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_one, c) for c in cmds]
            errors = [f.exception() for f in futures if f.exception()]
        if errors:
            collect(out, cfg)
            sys.exit(f"sweep: {len(errors)} step(s) failed; the first:\n{errors[0]}")
    missing = collect(out, cfg)
    print(f"sweep: done in {time.time() - t0:.0f} s")
    return 1 if missing else 0


def cmd_plan(a):
    out = pathlib.Path(a.out)
    cfg = make_config(a)
    save_config(out, cfg)
    for n, (title, cmds) in enumerate(stages(out, cfg), 1):
        print(f"# stage {n}: {title}; run after the stages above")
        for c in cmds:
            print(" ".join(map(shlex.quote, c)))
    print(f"# then: {' '.join(map(shlex.quote, me() + ['collect', str(out)]))}")
    return 0


def cmd_collect(a):
    out = pathlib.Path(a.out)
    return 1 if collect(out, load_config(out)) else 0


def cmd_step(a):
    out = pathlib.Path(a.out)
    cfg = load_config(out)
    if a.what == "prepare":
        step_prepare(out, cfg)
    elif a.what == "base":
        step_base(out, cfg, a.seed)
    else:
        step_point(out, cfg, a.setting, a.alpha, a.seed)
    return 0


def main():
    ap = argparse.ArgumentParser(prog="sweep.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("run", "plan"):
        p = sub.add_parser(name, help="run the sweep" if name == "run" else
                           "print the sweep as shell commands, one per line, in stages")
        p.add_argument("out", help="the sweep's folder (results, runs, logs)")
        p.add_argument("--task", choices=["hdr", "color"], default="hdr")
        p.add_argument("--preset", choices=sorted(PRESETS), default="cpu",
                       help="scale: " + "; ".join(f"{k}: {v['size']} px, {v['train']} images, "
                                                  f"{v['base_epochs']}+{v['tune_epochs']} epochs"
                                                  for k, v in PRESETS.items()))
        p.add_argument("--settings", default="none,trans-inv,jacobian",
                       help=f"comma separated, of {', '.join(SETTINGS)}")
        p.add_argument("--alphas", default="0.333,0.667,0.889,0.95,0.97,0.992,0.998",
                       help="regularization strengths (the paper's Fig. 4/5 values and 0.95)")
        p.add_argument("--seeds", default="1,2,3")
        p.add_argument("--transf-scale", type=float, default=1.0)
        p.add_argument("--bn", choices=["batch", "frozen"], default="batch",
                       help="batch norm during fine-tuning (train_* --bn)")
        p.add_argument("--eval-args", help="more eval_video options, one string (for videos: "
                       "'--max-side 128 --max-frames 48')")
        p.add_argument("--bin", default="build", help="folder of the built tools")
        p.add_argument("--device", default="auto")
        p.add_argument("--data", help="training images (default for hdr: generated in OUT/data)")
        p.add_argument("--test", nargs="+", help="test sequences (default for hdr: generated)")
        p.add_argument("--base", help="start every seed from this checkpoint (no pre-training)")
        for key in ("size", "train", "test_seqs", "frames", "base_epochs", "tune_epochs", "batch"):
            p.add_argument("--" + key.replace("_", "-"), type=int, help="override the preset")
        for key in ("base_lr", "tune_lr"):
            p.add_argument("--" + key.replace("_", "-"), type=float, help="override the preset")
        if name == "run":
            p.add_argument("--jobs", type=int, default=1, help="steps run at once")
            p.add_argument("--gpus", help="device ids, one worker each (sets CUDA_VISIBLE_DEVICES)")
    p = sub.add_parser("collect", help="merge the points' results into results.csv/json")
    p.add_argument("out")
    p = sub.add_parser("step", help="one step of a plan (what `plan` prints)")
    p.add_argument("out")
    p.add_argument("what", choices=["prepare", "base", "point"])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--setting", choices=SETTINGS, default="none")
    p.add_argument("--alpha", type=float, default=0.0)
    a = ap.parse_args()
    return {"run": cmd_run, "plan": cmd_plan, "collect": cmd_collect, "step": cmd_step}[a.command](a)


if __name__ == "__main__":
    sys.exit(main())
