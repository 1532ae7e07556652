#!/usr/bin/env bash
# Profiles on the GPU machine (issue 13: "find where the microsecond goes with a profile"):
#   ncu    Nsight Compute, ours against CuPy launch by launch (bench/gpu_ncu_probe.py)
#   nsys   Nsight Systems CUDA API trace of bench/gpu_launch_profile.py (per-call driver times)
# Run after a build (scripts/gpu_verify.sh with STEPS=none). PROFILES="ncu nsys" picks; logs go
# to $OUT/profile-*.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/pymetallic-gpu}
mkdir -p "$OUT"
export PYTHONPATH=$PWD/python PYTHONUNBUFFERED=1
find_tool() { command -v "$1" 2>/dev/null || ls -d /opt/nvidia/*/*/"$1" /opt/nvidia/*/"$1" /usr/local/cuda/bin/"$1" 2>/dev/null | sort | tail -1; }
for p in ${PROFILES:-ncu nsys}; do
  case $p in
  ncu)
    NCU=$(find_tool ncu); NCU=${NCU:-/opt/nvidia/nsight-compute/2025.3.1/ncu}
    timeout 300 "$NCU" -k "regex:${NCU_KERNELS:-matmul_tiled|life_step}" \
      --section SpeedOfLight --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
      --section WarpStateStats --section SchedulerStats --section ComputeWorkloadAnalysis \
      python3 bench/gpu_ncu_probe.py ${NCU_ARGS:-} > "$OUT/profile-ncu.txt" 2>&1
    echo "ncu rc=$? $(grep -c '^  [a-z_]*.*(.*)x(.*)' "$OUT/profile-ncu.txt") launches profiled" ;;
  nsys)
    NSYS=$(find_tool nsys)
    if [ -z "$NSYS" ]; then echo "nsys: not on this machine"; continue; fi
    timeout 200 "$NSYS" profile -t cuda,osrt --stats=false -o "$OUT/launch" -f true \
      python3 bench/gpu_launch_profile.py --n ${NSYS_N:-20000} > "$OUT/profile-nsys-run.txt" 2>&1
    timeout 120 "$NSYS" stats -r cuda_api_sum -f column "$OUT/launch.nsys-rep" > "$OUT/profile-nsys.txt" 2>&1
    echo "nsys rc=$?"; rm -f "$OUT"/launch.nsys-rep "$OUT"/launch.sqlite ;;
  esac
done
