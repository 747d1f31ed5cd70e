#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (Hopper): configure and build libeinc_rt with CUDA (no Python
# or Clang linters, no OpenCL, no oneDNN), then run the stages named on the command line, all by
# default:
#   test      the GPU tests (tests/cuda) on fresh random inputs
#   sanitize  compute-sanitizer memcheck over the tests' quick variants
#   bench     einc's permute and GDN benchmarks (ratios to floors measured in the same run)
#   torch     PyTorch / einops comparators on the same cases (scripts/bench_gdn_torch_cuda.py)
#   profile   Nsight Compute sections of the fused small-batch kernel (not run by default)
# Logs and CSV files go to $OUT when set, else to $EINC_GPU_BUILD/logs. Exit status: non-zero if
# any stage failed.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${EINC_GPU_BUILD:-$ROOT/build-gpu}
LOG=${OUT:-$BUILD/logs}
mkdir -p "$LOG"
stages=("$@")
((${#stages[@]})) || stages=(test sanitize bench torch)
status=0
export PATH=/usr/local/cuda/bin:$PATH PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv \
  2>&1 | tee "$LOG/build.log"

# The GPU machine may lack cmocka (and a package registry): the CUDA tests need neither, so
# build them from runtime/cuda when the full test suite cannot be configured.
tests=(-DEINC_BUILD_TESTS=OFF -DEINC_CUDA_GPU_TESTS=ON)
if pkg-config --exists cmocka 2>/dev/null; then tests=(-DEINC_BUILD_TESTS=ON); fi
if ! { cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEINC_WITH_CUDA=ON \
  -DEINC_WITH_PYTHON=OFF -DEINC_WITH_CLANG=OFF -DEINC_WITH_OPENCL=OFF -DEINC_WITH_DNNL=OFF \
  -DCMAKE_CUDA_ARCHITECTURES="90a-real;90-virtual" "${tests[@]}" &&
  cmake --build "$BUILD" --parallel "$(nproc)"; } >>"$LOG/build.log" 2>&1; then
  tail -30 "$LOG/build.log"
  echo "gpu.sh: build failed"
  exit 1
fi
find_bin() { find "$BUILD" -name "$1" -type f -perm -u+x | head -1; }
gdn_test=$(find_bin test_cuda_gdn)
permute_test=$(find_bin test_cuda_permute)
gen_test=$(find_bin test_gen_cuda)

run() { # run NAME LOGFILE CMD...
  local name=$1 log=$2
  shift 2
  echo "== $name"
  if "$@" >>"$log" 2>&1; then
    grep -E "^(PASSED|FAILED)|ERROR SUMMARY|^[0-9]+ passed, [0-9]+ failed" "$log" | tail -2
  else
    echo "gpu.sh: $name failed (exit $?); last lines of $log:"
    tail -25 "$log"
    status=1
  fi
}

for stage in "${stages[@]}"; do
  case $stage in
  test)
    : >"$LOG/test.log"
    run "test_cuda_gdn" "$LOG/test.log" "$gdn_test"
    run "test_cuda_permute" "$LOG/test.log" "$permute_test"
    run "test_gen_cuda" "$LOG/test.log" "$gen_test"
    # every valid rearrange / reduce / repeat case through generated CUDA: the random cases, and
    # the public corpus where it is beside the repository (or named by EINC_GPU_CORPUS)
    corpora=("$ROOT/tests/core/random_cases.jsonl")
    for c in "${EINC_GPU_CORPUS:-}" "$ROOT/../shared/conformance/cases.jsonl"; do
      if [[ -n $c && -f $c ]]; then
        corpora=("$c" "${corpora[@]}")
        break
      fi
    done
    python3 "$ROOT/tests/cuda/corpus_lines.py" "$BUILD/gen_cuda_corpus.lines" "${corpora[@]}" \
      >>"$LOG/test.log"
    mkdir -p "$BUILD/gen_cuda_corpus"
    run "test_gen_cuda_corpus" "$LOG/test.log" "$(find_bin test_gen_cuda_corpus)" \
      "$(command -v nvcc)" "$BUILD/gen_cuda_corpus" "$BUILD/gen_cuda_corpus.lines"
    grep -c "^ok" "$LOG/test.log" | sed 's/^/checks passed: /'
    grep "^FAIL" "$LOG/test.log" | head -20
    ;;
  sanitize)
    : >"$LOG/sanitize.log"
    run "memcheck test_cuda_gdn --quick" "$LOG/sanitize.log" \
      compute-sanitizer --tool memcheck --error-exitcode 99 "$gdn_test" --quick
    run "memcheck test_cuda_permute --quick" "$LOG/sanitize.log" \
      compute-sanitizer --tool memcheck --error-exitcode 99 "$permute_test" --quick
    run "memcheck test_gen_cuda --quick" "$LOG/sanitize.log" \
      compute-sanitizer --tool memcheck --error-exitcode 99 "$gen_test" --quick
    ;;
  bench)
    : >"$LOG/bench.log"
    run "einc permute benchmark" "$LOG/bench.log" \
      "$(find_bin einc_bench_cuda_permute)" "$LOG/permute_einc.csv"
    run "einc GDN benchmark" "$LOG/bench.log" \
      "$(find_bin einc_bench_cuda_gdn)" "$LOG/gdn_einc.csv"
    run "generated CUDA kernels benchmark" "$LOG/bench.log" "$(find_bin einc_bench_gen_cuda)"
    cat "$LOG/bench.log"
    ;;
  torch)
    : >"$LOG/torch.log"
    run "PyTorch comparators" "$LOG/torch.log" python3 \
      "$ROOT/scripts/bench_gdn_torch_cuda.py" --einc-permute "$LOG/permute_einc.csv" \
      --einc-gdn "$LOG/gdn_einc.csv"
    cat "$LOG/torch.log"
    ;;
  profile)
    : >"$LOG/profile.log"
    run "ncu: fused small-batch kernel" "$LOG/profile.log" ncu --clock-control none \
      --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
      --section Occupancy --section LaunchStats --section SchedulerStats -k regex:gdn_small \
      --launch-skip 4 --launch-count 2 "$(find_bin einc_bench_cuda_gdn)" --profile
    grep -E "gdn_small|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Registers|Stall|Warp Cycles|Eligible|Issued Warp|Block Limit" \
      "$LOG/profile.log" | head -60
    ;;
  *)
    echo "gpu.sh: unknown stage '$stage' (test, sanitize, bench, torch)"
    status=2
    ;;
  esac
done
exit $status
