#!/usr/bin/env bash
# Times EVTX parsing and Sigma hunting on the same files, side by side:
#   evtxexport (libevtx-utils, parse only), evtx_dump.py (python3-evtx),
#   kintsugi's decoder alone, kintsugi's decoder + every SigmaHQ
#   Windows rule, and the whole `kintsugi hunt` command (readers, built-ins,
#   SigmaHQ rules, correlation; kintsugi-cmd). Prints MB/s, events/s and ratios against evtxexport.
# Input: ../shared/data/evtx-attack-samples and the Sigma regression EVTX
# files. The peers run one process per file, JOBS at a time (default: the
# number of cores), the way a hunt over many files would run them.
# Usage: bench/hunt/run.sh [--no-python]
set -euo pipefail
cd "$(dirname "$0")/../.."
export GONOSUMDB=www.velocidex.com GOFLAGS=-mod=mod

data=../shared/data
if [ ! -d "$data/evtx-attack-samples" ]; then
	echo "kintsugi: bench needs ../shared/data (EVTX samples and SigmaHQ rules)" >&2
	exit 1
fi
python=1
[ "${1:-}" = "--no-python" ] && python=0
jobs=${JOBS:-$(nproc)}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

find "$data/evtx-attack-samples" "$data/sigma/regression_data" -name '*.evtx' -print0 >"$tmp/files0"
tr '\0' '\n' <"$tmp/files0" >"$tmp/files"
bytes=$(xargs -0 stat -c %s <"$tmp/files0" | awk '{s+=$1} END {print s}')
nfiles=$(wc -l <"$tmp/files")
go build -o "$tmp/evtxbench" ./bench/hunt/evtxbench

now() { date +%s.%N; }
declare -A secs events

# evtxexport: parse and print every record, output discarded.
t0=$(now)
xargs -0 -P "$jobs" -n 1 sh -c 'evtxexport "$0" >/dev/null 2>&1 || true' <"$tmp/files0"
secs[evtxexport]=$(echo "$(now) - $t0" | bc)
events[evtxexport]=$(xargs -0 -P "$jobs" -n 1 sh -c 'evtxexport "$0" 2>/dev/null | grep -c "^Event number" || true' <"$tmp/files0" | awk '{s+=$1} END {print s}')

if [ "$python" = 1 ] && command -v evtx_dump.py >/dev/null; then
	t0=$(now)
	xargs -0 -P "$jobs" -n 1 sh -c 'evtx_dump.py "$0" >/dev/null 2>&1 || true' <"$tmp/files0"
	secs[evtx_dump.py]=$(echo "$(now) - $t0" | bc)
	events[evtx_dump.py]=${events[evtxexport]}
fi

out=$("$tmp/evtxbench" <"$tmp/files")
secs[kintsugi-parse]=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$out")
events[kintsugi-parse]=$(sed -E 's/.*events=([0-9]+).*/\1/' <<<"$out")

out=$("$tmp/evtxbench" -rules "$data/sigma/rules/windows" <"$tmp/files" 2>"$tmp/load")
secs[kintsugi-hunt]=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$out")
events[kintsugi-hunt]=$(sed -E 's/.*events=([0-9]+).*/\1/' <<<"$out")
matches=$(sed -E 's/.*matches=([0-9]+).*/\1/' <<<"$out")

# The whole command: every reader, the built-ins, all Windows SigmaHQ
# rules, correlation; the same .evtx files (hunt is given the file list).
go build -o "$tmp/kintsugi" ./cmd/kintsugi
t0=$(now)
rc=0
xargs -0 "$tmp/kintsugi" hunt --no-store --format jsonl --sigma "$data/sigma/rules/windows" \
	<"$tmp/files0" >"$tmp/hunt.jsonl" 2>"$tmp/hunt.err" || rc=$?
# xargs exits 123 when the command exits 1 (detections found).
if [ "$rc" -ne 0 ] && [ "$rc" -ne 123 ]; then
	echo "kintsugi hunt failed (exit $rc):" >&2
	tail -5 "$tmp/hunt.err" >&2
	exit 2
fi
secs[kintsugi-cmd]=$(echo "$(now) - $t0" | bc)
events[kintsugi-cmd]=${events[kintsugi-hunt]}

echo "input: $nfiles files, $((bytes / 1000000)) MB, ${events[evtxexport]} records (evtxexport count); $jobs cores"
echo "kintsugi hunt: $(cat "$tmp/load"), $matches rule matches (rule load time included below)"
printf '%-16s %9s %9s %11s %14s\n' tool seconds MB/s events/s "vs evtxexport"
base=${secs[evtxexport]}
for t in evtxexport evtx_dump.py kintsugi-parse kintsugi-hunt kintsugi-cmd; do
	[ -n "${secs[$t]:-}" ] || continue
	s=${secs[$t]}
	printf '%-16s %9.2f %9.1f %11.0f %13.2fx\n' "$t" "$s" \
		"$(echo "$bytes / 1000000 / $s" | bc -l)" \
		"$(echo "${events[$t]} / $s" | bc -l)" \
		"$(echo "$base / $s" | bc -l)"
done
