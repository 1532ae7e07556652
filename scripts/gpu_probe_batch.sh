#!/usr/bin/env bash
# One device call's worth of issue-13 probes (after a build by scripts/gpu_verify.sh STEPS=none):
# PROBES picks from: floor vscupy gemmncu fluidncu fluidstats param launch. Each writes $OUT/<probe>.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pymetallic-gpu}
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
NCU=$(command -v ncu || echo /opt/nvidia/nsight-compute/2025.3.1/ncu)
for p in ${PROBES:-floor vscupy gemmncu fluidncu}; do
  s=$(date +%s)
  case $p in
  floor) timeout 120 python3 bench/gpu_launch_floor.py > "$OUT/floor.txt" 2>&1 ;;
  vscupy) timeout 300 python3 bench/gpu_vs_cupy.py --json "$OUT/vscupy.json" > "$OUT/vscupy.txt" 2>&1 ;;
  launch) timeout 120 python3 bench/gpu_launch_profile.py > "$OUT/launch.txt" 2>&1 ;;
  gemmncu) timeout 200 "$NCU" --set full -k regex:metallic_entry -c 1 python3 bench/gemm_once.py ${GEMM_KERNEL:-gemm_pipe_half} 4096 > "$OUT/gemmncu.txt" 2>&1 ;;
  fluidncu) timeout 200 "$NCU" --graph-profiling node --metrics gpu__time_duration.sum -c 260 \
      python3 bench/gpu_fluid_nodes.py --steps 1 > "$OUT/fluidncu.txt" 2>&1 ;;
  param) timeout 120 python3 bench/gpu_param_probe.py > "$OUT/param.txt" 2>&1 ;;
  fluidstats) timeout 200 "$NCU" --graph-profiling node -k regex:'jacobi|metallic_entry_4_uniform' -c 8 \
      --section LaunchStats --section Occupancy --section SpeedOfLight --section WarpStateStats \
      python3 bench/gpu_fluid_nodes.py --steps 1 > "$OUT/fluidstats.txt" 2>&1 ;;
  esac
  echo "$p rc=$? $(( $(date +%s)-s ))s"
done
