#!/usr/bin/env bash
# Issue 14's thread-scaling measurement (scaling.py at 1, 2, 4, 8 and 16 threads) as one
# prepared command for a lent machine with 16 cores, where the repository arrives as a bare
# working tree and nothing can be downloaded.
#
# That machine's Python (3.12) already has numba, numpy, pandas, pyarrow, scipy, networkx,
# tqdm and pyyaml; it lacks Mesa (pure Python), which travels as a wheel. Once, here, in
# the repository's root:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl mesa==3.3.1
#
# Then one device call, with `.whl` carried, about 3 minutes of which 1 compiles:
#
#   bash experiments/e09_benchmark/device_scaling.sh
#
# It writes scaling.csv and scaling.md to $OUT (the folder the device tool brings back), or to
# results/benchmark where $OUT is not set. Copy them to results/benchmark/ here and run
# `make bench-speed`: the speed table then carries the 16-thread targets from scaling.csv.
# THREADS, REPLICATES and ROUNDS override the defaults (1,2,4,8,16; 4000; 3).
set -euo pipefail
cd "$(dirname "$0")/../.."
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD"
else
    export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1
out="${OUT:-results/benchmark}"
nproc
python3 -c 'import mesa, numba, numpy; print("numba", numba.__version__, "numpy", numpy.__version__, "mesa", mesa.__version__)'
python3 experiments/e09_benchmark/scaling.py --threads "${THREADS:-1,2,4,8,16}" \
    --replicates "${REPLICATES:-4000}" --rounds "${ROUNDS:-3}" --out "$out"
cat "$out/scaling.md"
