#!/usr/bin/env bash
# scripts/sweep.py end to end at the tiny preset: 2 settings x 2 alphas x 2 seeds on 32x32
# procedural data. Checks the results table (rows, finite values), that a sweep started again
# re-runs only what had not finished, that `plan` run line by hand plus `collect` gives the same
# table, and (where matplotlib is) that plot_sweep.py draws it.
# Usage: tests/sweep_tiny.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "sweep_tiny: $*"; exit 1; }
args=(--bin "$build" --preset tiny --settings trans-inv,jacobian --alphas 0.5,0.95 --seeds 1,2 --device cpu)
python3 "$root/scripts/sweep.py" run "$work/a" "${args[@]}" --jobs 2 >"$work/run1.txt" 2>&1 ||
  { cat "$work/run1.txt"; fail "the sweep failed"; }

python3 - "$work/a/results.csv" <<'PY' || fail "results.csv is not the grid"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
got = sorted((r["setting"], float(r["alpha"]), int(r["seed"])) for r in rows)
want = sorted((s, a, d) for s in ("trans-inv", "jacobian") for a in (0.5, 0.95) for d in (1, 2))
assert got == want, got
for r in rows:
    for k in ("psnr", "s", "equiv", "train_seconds"):
        assert math.isfinite(float(r[k])), (k, r)
    assert float(r["s"]) > 0 and float(r["equiv"]) >= 0, r
PY

# A sweep killed during one point's training: that point has no result and no "done" marker.
victim="$work/a/points/jacobian_a0.95_s2"
rm -f "$victim/result.json" "$victim/run/done"
stamp() { find "$work/a" -name 'result.json' -o -name done | sort | xargs stat -c '%n %Y.%y'; }
before=$(stamp | grep -v jacobian_a0.95_s2)
sleep 1
python3 "$root/scripts/sweep.py" run "$work/a" "${args[@]}" >"$work/run2.txt" 2>&1 ||
  { cat "$work/run2.txt"; fail "the restarted sweep failed"; }
after=$(stamp | grep -v jacobian_a0.95_s2)
[ "$before" = "$after" ] || fail "finished steps ran again"
[ -f "$victim/result.json" ] || fail "the killed point was not finished"
[ "$(wc -l <"$work/a/results.csv")" = 9 ] || fail "the restarted sweep's table lost rows"

# The same sweep as a plan, its lines run by hand, then collect.
python3 "$root/scripts/sweep.py" plan "$work/b" "${args[@]}" >"$work/plan.txt"
[ "$(grep -c '^#' "$work/plan.txt")" = 4 ] || fail "plan: expected 3 stages and the collect line"
# One thread per step, as `run --jobs 2` gives each step on two cores: on the CPU a run is
# bitwise reproducible for a given thread count.
grep -v '^#' "$work/plan.txt" | OMP_NUM_THREADS=1 bash >"$work/plan_run.txt" 2>&1 || { cat "$work/plan_run.txt"; fail "plan lines failed"; }
python3 "$root/scripts/sweep.py" collect "$work/b" >/dev/null
strip() { cut -d, -f1-8 "$1"; }  # without train_seconds, the one column that differs
[ "$(strip "$work/a/results.csv")" = "$(strip "$work/b/results.csv")" ] ||
  { diff <(strip "$work/a/results.csv") <(strip "$work/b/results.csv"); fail "plan + collect differs from run"; }

# A sweep continued with other settings is refused.
python3 "$root/scripts/sweep.py" run "$work/a" "${args[@]/tiny/cpu}" >"$work/other.txt" 2>&1 &&
  fail "a different configuration was accepted into the same folder"
grep -q "holds a sweep with other settings" "$work/other.txt" || fail "unclear refusal: $(cat "$work/other.txt")"

python=python3
[ -x /usr/bin/python3 ] && python=/usr/bin/python3
if "$python" -c "import matplotlib" 2>/dev/null; then
  "$python" "$root/scripts/plot_sweep.py" "$work/a" >/dev/null || fail "plot_sweep.py failed"
  for f in sweep_hdr.png sweep_hdr.svg losses_hdr.png table_hdr.md; do
    [ -s "$work/a/plots/$f" ] || fail "plot_sweep.py did not write $f"
  done
fi
echo "sweep: ok"
