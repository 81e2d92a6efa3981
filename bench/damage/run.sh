#!/usr/bin/env bash
# bench/damage: ransomware-damage triage against a full scan and cat, on one
# tree, in one run.
#
#   bench/damage/run.sh [CORPUS]   (default: make-corpus --profile bench in $TMPDIR)
#
# KINTSUGI_BIN=path uses that kintsugi binary instead of building ./cmd/kintsugi.
#
# Contenders, each run cold (page cache dropped, when we may) and warm:
#   cat                        every file to /dev/null: the read limit
#   damagebench -quick         the damage detector alone, sampling (no case store)
#   damagebench                the damage detector alone, reading every byte
#                              the way the engine feeds it, and hashing the same
#                              bytes with SHA-256 to compare costs
#   kintsugi scan --quick      the triage command (damage, notes, extensions)
#   kintsugi scan              the full screening (hashes, YARA, damage, names, archives)
# For each: wall seconds, bytes the processes asked for (rchar) and bytes
# that came from the disk (read_bytes), from /proc/PID/io. damagebench also
# prints recall per encryption pattern from labels.jsonl, so the speed and
# the recall of quick mode are measured on the same files.
# Figures go into the README (section damage).
set -euo pipefail
. "$(dirname "$0")/../common.sh"
corpus=$(bench_corpus "${1:-}")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/damagebench" ./bench/damage/damagebench)
if [[ -n ${KINTSUGI_BIN:-} ]]; then
  k=$KINTSUGI_BIN
else
  (cd "$root" && go build -o "$work/kintsugi" ./cmd/kintsugi)
  k=$work/kintsugi
fi

bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
big=$(find "$corpus" -type f -size +10M -printf '%s\n' | awk '{s+=$1} END {print s+0}')
files=$(find "$corpus" -type f | wc -l)
echo "corpus: $corpus, $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.1f MB", b/1e6}'), $(awk -v b="$big" 'BEGIN{printf "%.1f MB", b/1e6}') in files over 10 MB"
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

can_drop=0
if [[ -w /proc/sys/vm/drop_caches ]]; then can_drop=1; else echo "note: cannot drop the page cache (not root): cold runs are skipped" >&2; fi
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
warm() { find "$corpus" -type f -exec cat {} + >/dev/null; }

# measure NAME CMD...: wall seconds and the I/O of the command (children's
# I/O is added to the shell that waits for them).
declare -A secs rchar rbytes
measure() {
  local name=$1; shift
  local out=$work/$name.out
  bash -c '
    t0=$(date +%s.%N)
    "$@" >"'"$out"'" 2>"'"$out"'.err"; rc=$?
    t1=$(date +%s.%N)
    if ((rc > 1)); then echo "exit $rc" >>"'"$out"'.err"; exit 2; fi
    awk -v a="$t0" -v b="$t1" "BEGIN{printf \"%.3f\\n\", b-a}"
    grep -E "^(rchar|read_bytes):" /proc/$$/io
  ' _ "$@" >"$work/$name.m" || { echo "bench/damage: $name failed:" >&2; tail -5 "$out.err" >&2; exit 2; }
  secs[$name]=$(sed -n 1p "$work/$name.m")
  rchar[$name]=$(awk '/^rchar/{print $2}' "$work/$name.m")
  rbytes[$name]=$(awk '/^read_bytes/{print $2}' "$work/$name.m")
}

run_all() {
  local t=$1
  for c in cat quick_d full_d quick_k full_k; do
    [[ $t == cold ]] && drop
    [[ $t == warm ]] && warm
    case $c in
      cat) measure "$c-$t" bash -c "find '$corpus' -type f -exec cat {} + >/dev/null" ;;
      quick_d) measure "$c-$t" "$work/damagebench" -quick "$corpus" ;;
      full_d) measure "$c-$t" "$work/damagebench" -sha256 "$corpus" ;;
      quick_k) rm -f "$work/q.db"; measure "$c-$t" "$k" scan --quick -q --case "$work/q.db" --host bench "$corpus" ;;
      full_k) rm -f "$work/f.db"; measure "$c-$t" "$k" scan -q --case "$work/f.db" --host bench "$corpus" ;;
    esac
  done
}
modes=(warm)
((can_drop)) && modes=(cold warm)
for t in "${modes[@]}"; do run_all "$t"; done

mb() { awk -v b="$1" 'BEGIN{printf "%.1f", b/1e6}'; }
printf '\n%-34s %5s %9s %10s %10s %8s\n' "run" "cache" "seconds" "rchar MB" "disk MB" "MB/s"
for t in "${modes[@]}"; do
  for c in cat quick_d full_d quick_k full_k; do
    n=$c-$t
    label=$(case $c in cat) echo "cat (read limit)";; quick_d) echo "damage detector, quick";; full_d) echo "damage detector, full";;
      quick_k) echo "kintsugi scan --quick";; full_k) echo "kintsugi scan (full)";; esac)
    printf '%-34s %5s %9s %10s %10s %8s\n' "$label" "$t" "${secs[$n]}" "$(mb "${rchar[$n]}")" "$(mb "${rbytes[$n]}")" \
      "$(awk -v b="$bytes" -v s="${secs[$n]}" 'BEGIN{printf "%.0f", b/1e6/s}')"
  done
done
ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN{printf "%.1fx", a/b}'; }
echo
for t in "${modes[@]}"; do
  echo "$t: kintsugi scan --quick is $(ratio full_k-$t quick_k-$t) faster than a full scan, $(ratio cat-$t quick_k-$t) faster than cat;" \
    "the detector alone: quick $(ratio full_d-$t quick_d-$t) faster than full"
done
awk '/^mode=/{for(i=1;i<=NF;i++){split($i,a,"="); v[a[1]]=a[2]}} END{printf "damage detector in full mode: %.2f s of CPU beside %.2f s of SHA-256 over the same bytes (%.0f%%)\n", v["detector_seconds"], v["sha256_seconds"], 100*v["detector_seconds"]/v["sha256_seconds"]}' "$work/full_d-warm.out"
q=$work/quick_d-warm.out
awk -v big="$big" '/^mode=/{for(i=1;i<=NF;i++){split($i,a,"="); v[a[1]]=a[2]}} END{if (v["big_bytes"]>0) printf "quick mode read %.2f%% of the bytes of files over 10 MB (%.1f of %.1f MB)\n", 100*v["big_read"]/v["big_bytes"], v["big_read"]/1e6, v["big_bytes"]/1e6}' "$q"
echo
echo "recall by pattern (damage detector, quick | full), intact files called encrypted:"
paste <(grep -E '^(recall|intact)' "$work/quick_d-warm.out") <(grep -E '^(recall|intact)' "$work/full_d-warm.out" | sed 's/^recall [^ ]* *//;s/^intact [0-9]*: //') | column -t -s $'\t'
