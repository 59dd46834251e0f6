#!/usr/bin/env bash
# One prepared GPU check, under 8 minutes on one GPU (bench/device_check.py has the details):
#   1. the device, then one table: Tucker images/s (tensorly on the CPU, the fast CPU path, the GPU path) on
#      2,000 demo crops and the GPU path's error against tensorly's; Xception training images/s at 256 px,
#      batch 32 (float32, mixed precision, XLA; the CPU for the ratio) against the study's ~54 images/s;
#   2. a two-epoch run of configs/paper.yaml's settings on the demo data (weights null), end to end, so that
#      every GPU code path runs once.
# Without a GPU it says so in one line, runs the CPU rows on a smaller sample, skips the run and exits 0.
#   bash bench/device_check.sh            # OUT=folder keeps the run's outputs (default: a temporary folder)
#   DEVICE_CHECK_N=16 bash bench/device_check.sh   # the sample size without a GPU (default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$(mktemp -d)}
if python -c "import tensorflow as tf, sys; sys.exit(0 if tf.config.list_physical_devices('GPU') else 1)" 2>/dev/null
then
    timeout 300 python bench/device_check.py -n 2000 --sample 100 --steps 10
    timeout 150 python -m tdfake.cli run --config configs/paper.yaml --set data_dir=null --set weights=null \
        --set epochs=2 --set per_class=null --set out_dir="$out/paper" --set graphs_dir="$out/paper/graphs"
    echo "device check: done (run outputs in $out/paper)"
else
    echo "device check: no GPU visible; CPU rows only, on ${DEVICE_CHECK_N:-64} crops and a 96 px batch of 8;" \
        "the paper run is skipped"
    timeout 300 python bench/device_check.py -n "${DEVICE_CHECK_N:-64}" --sample "${DEVICE_CHECK_N:-64}" --steps 2 \
        --train-size 96 --train-batch 8
fi
