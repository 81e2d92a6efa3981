#!/usr/bin/env bash
# Measures kintsugi watch with its ransomware simulator, and a naive
# detector ("many high-entropy writes by one process", the rule that killed
# rclone and cp at the company) beside it on the same runs:
#   - files lost before the stop and detection latency (first damaged file to
#     the stop), over RUNS runs per simulator mode with FILES files each;
#   - the agent's CPU while idle;
#   - the agent's overhead on cp -r of the bench corpus into the watched tree,
#     and whether either detector stops the copy.
# Needs root (fanotify, tmpfs or a loop-mounted ext4 image with -fs ext4).
# Extra arguments go to watchbench (-fs, -modes,
# -runs, -files, -naive-runs, -cp-runs, -idle).
# Usage: bench/watch/run.sh [watchbench flags]
set -euo pipefail
. "$(dirname "$0")/../common.sh"
cd "$root"
if [ "$(id -u)" != 0 ]; then
	echo "kintsugi: bench/watch needs root (fanotify, tmpfs)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/kintsugi" ./cmd/kintsugi
go build -o "$tmp/ransomsim" ./bench/watch/ransomsim
go build -o "$tmp/watchbench" ./bench/watch/watchbench
corpus=$(bench_corpus "${CORPUS:-}")
out=${OUT:-/tmp/kintsugi-watch-bench.json}
"$tmp/watchbench" -kintsugi "$tmp/kintsugi" -sim "$tmp/ransomsim" -corpus "$corpus" -json "$out" "$@"
echo "results: $out" >&2
