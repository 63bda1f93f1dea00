#!/usr/bin/env bash
# Check a GPU machine and measure featspan's GPU paths in one go; every result lands in OUTDIR.
#
#   bash benchmarks/gpu.sh [OUTDIR]        # default OUTDIR: results/benchmarks/gpu
#
# In order (each step has its own time limit, and a failing step does not stop the next):
#   1. the device, torch and CUDA versions (device.txt);
#   2. python -m pytest -m gpu: the torch paths on CUDA against CPU references (pytest.log);
#   3. benchmarks/cohort_training.py, ridge.py (torch backend), probe.py, train.py (*.json);
#   4. the GPU smoke preset through Snakemake (smoke.log, smoke-tables/, its wall time in smoke.json);
#   5. featspan estimate for configs/paper.yaml on this device (estimate-paper.json).
# docs/benchmarks.md quotes the numbers of such a run.
set -u
cd "$(dirname "$0")/.."
out=${1:-results/benchmarks/gpu}
mkdir -p "$out" && out=$(cd "$out" && pwd)  # absolute: the smoke step runs in another folder
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

step() {  # step NAME SECONDS COMMAND...: run with a limit, log its exit status and time
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout -k 5 "$limit" "$@"
  local rc=$?
  echo "step $name: rc $rc in $((SECONDS - t0)) s" | tee -a "$out/steps.txt"
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
  nproc; } > "$out/device.txt" 2>&1
cat "$out/device.txt"

step pytest 150 "$py" -m pytest -m gpu -q -p no:cacheprovider tests > "$out/pytest.log" 2>&1
tail -3 "$out/pytest.log"
step cohort 90 "$py" benchmarks/cohort_training.py --json --resnet-models 64 --resnet-base-width 64 \
  --image-size 32 > "$out/cohort.json"
step ridge 120 "$py" benchmarks/ridge.py --backend torch --skip-loop > "$out/ridge.json"
step probe 120 "$py" benchmarks/probe.py --device cuda > "$out/probe.json"

smoke=$(mktemp -d)  # a copy of the workflow, so the smoke run starts from nothing and leaves results/ alone
cp -r Snakefile rules workflow_scripts featspan schemas envs report configs config.yaml "$smoke"/
t0=$SECONDS
(cd "$smoke" && step smoke 330 "$py" -m snakemake --cores "$(nproc)" --resources gpu=1 \
  --configfile configs/gpu-smoke.yaml) > "$out/smoke.log" 2>&1
echo "{\"smoke_wall_seconds\": $((SECONDS - t0)), \"jobs\": $(grep -c '^Finished job' "$out/smoke.log")}" > "$out/smoke.json"
mkdir -p "$out/smoke-tables" && cp -r "$smoke"/results/tables/* "$out/smoke-tables/" 2>/dev/null
cat "$out/smoke.json" "$out/smoke-tables/table2_accuracy_and_m.md" 2>/dev/null

step estimate 120 "$py" -m featspan.cli estimate --configfile configs/paper.yaml --json > "$out/estimate-paper.json"
step train 120 "$py" benchmarks/train.py --n 10000 > "$out/train.json"
cat "$out/steps.txt"
