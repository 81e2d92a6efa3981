#!/usr/bin/env bash
# bench/scan: kintsugi scan against the peers on one tree, in one run.
#
#   bench/scan/run.sh [CORPUS]      (default: make-corpus --profile bench in $TMPDIR)
#
# Measures, on the same files with a warm page cache:
#   (a) cat of every file to /dev/null           the read limit
#   (b) yara -r -p 2 with signature-base         Debian's yara, rules precompiled with yarac
#   (c) kintsugi scan --rules signature-base     plus hashing, damage, names, archives
#   (d) kintsugi scan again, tree unchanged      incremental rescan
#   sha256sum of every file (2 processes), and (b) followed by it: what a
#     responder runs today to get the verdicts and the hashes kintsugi records
#   (b') and (c') with kintsugi's built-in pack (kintsugi rules export)
#   clamscan, with its installed signature database when there is one (it
#   refuses to run without one), and with kintsugi's built-in pack loaded as a
#   YARA database (ClamAV skips the rules its YARA subset cannot express)
# and prints seconds, MB/s, CPU seconds (user + system) and the ratios. Figures go into the README.
set -euo pipefail
. "$(dirname "$0")/../common.sh"
corpus=$(bench_corpus "${1:-}")
sb=$shared/data/yara-rules/signature-base
[[ -d $sb ]] || { echo "bench/scan: $sb not found" >&2; exit 2; }
command -v yara >/dev/null || { echo "bench/scan: yara not installed (apt-get install yara)" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/kintsugi" ./cmd/kintsugi)
k=$work/kintsugi
"$k" rules export -o "$work/builtin.yar"
ext=(-d filename= -d filepath= -d extension= -d filetype= -d owner=)
mapfile -t sbfiles < <(find "$sb" -name '*.yar' -o -name '*.yara' | sort)
yarac "${ext[@]}" "${sbfiles[@]}" "$work/sb.yarc" 2>/dev/null
yarac "${ext[@]}" "$work/builtin.yar" "$work/builtin.yarc"

bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$corpus" -type f | wc -l)
echo "corpus: $corpus, $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.1f MB", b/1e6}')"
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

# time_run NAME CMD...: wall seconds and CPU seconds (user + system, the
# command and its children) of one run (exit status 0 and 1 are success;
# kintsugi exits 1 when it finds something).
declare -A secs cpu
time_run() {
  local name=$1; shift
  local rc=0 t
  TIMEFORMAT='%R %U %S'
  { time "$@" >"$work/$name.out" 2>"$work/$name.err" || rc=$?; } 2>"$work/$name.time"
  if ((rc > 1)); then
    echo "bench/scan: $name failed (exit $rc):" >&2; tail -5 "$work/$name.err" >&2; exit 2
  fi
  read -r t u s < <(tail -1 "$work/$name.time")
  secs[$name]=$t
  cpu[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
}

# Warm the page cache so every contender reads from memory, and kintsugi's
# compiled-rule cache (its per-file-class variants included) so that neither
# tool's timing includes compiling: yara gets rules precompiled by yarac.
find "$corpus" -type f -exec cat {} + >/dev/null
"$k" scan -q --case "$work/warm.db" --rules "$sb" --host warm "$corpus" >/dev/null 2>&1 || true
"$k" scan -q --case "$work/warm.db" --host warm "$corpus" >/dev/null 2>&1 || true

time_run cat         bash -c "find '$corpus' -type f -exec cat {} + >/dev/null"
time_run yara_sb     yara -r -p 2 -C "$work/sb.yarc" "${ext[@]}" "$corpus"
time_run kintsugi_sb "$k" scan -q --case "$work/sb.db" --rules "$sb" --host bench "$corpus"
time_run rescan_sb   "$k" scan -q --case "$work/sb.db" --rules "$sb" --host bench "$corpus"
# what a responder runs today to get the hashes kintsugi records as well
time_run sha256     bash -c "find '$corpus' -type f -print0 | xargs -0 -P 2 -n 64 sha256sum >/dev/null"
time_run yara_bi     yara -r -p 2 -C "$work/builtin.yarc" "${ext[@]}" "$corpus"
time_run kintsugi_bi "$k" scan -q --case "$work/bi.db" --host bench "$corpus"
have_clam=0 have_clam_bi=0
if command -v clamscan >/dev/null && ls /var/lib/clamav/*.c[lv]d >/dev/null 2>&1; then
  have_clam=1
  time_run clamscan clamscan -r --no-summary --infected "$corpus"
fi
if command -v clamscan >/dev/null; then
  have_clam_bi=1
  time_run clamscan_bi clamscan -r --no-summary --infected -d "$work/builtin.yar" "$corpus"
  clam_skipped=$(grep -c 'skipping YARA' "$work/clamscan_bi.err" || true)
  clam_total=$(grep -c '^rule ' "$work/builtin.yar" || true)
fi

mbs() { awk -v b="$bytes" -v s="${secs[$1]}" 'BEGIN{printf "%8.1f", b/1e6/s}'; }
ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN{printf "%.2fx", a/b}'; }
printf '\n%-46s %8s %9s %8s\n' "run" "seconds" "MB/s" "CPU s"
row() { printf '%-46s %8s %9s %8s\n' "$1" "${secs[$2]}" "$(mbs "$2")" "${cpu[$2]}"; }
sum() { # sum NEW A B: NEW is A then B
  secs[$1]=$(awk -v a="${secs[$2]}" -v b="${secs[$3]}" 'BEGIN{printf "%.3f", a+b}')
  cpu[$1]=$(awk -v a="${cpu[$2]}" -v b="${cpu[$3]}" 'BEGIN{printf "%.2f", a+b}')
}
sum yara_sb_sha yara_sb sha256
row "(a) cat (read limit)" cat
row "(b) yara -r -p 2, signature-base" yara_sb
row "(c) kintsugi scan --rules signature-base" kintsugi_sb
row "(d) kintsugi rescan, unchanged tree" rescan_sb
row "sha256sum of every file, 2 processes" sha256
row "(b) then sha256sum (verdicts and hashes)" yara_sb_sha
row "(b') yara -r -p 2, built-in pack" yara_bi
row "(c') kintsugi scan, built-in pack" kintsugi_bi
((have_clam)) && row "clamscan -r (installed signatures)" clamscan
((have_clam_bi)) && row "clamscan -r, built-in pack as YARA database" clamscan_bi
echo
echo "kintsugi vs yara, signature-base (speed, >1 is faster): $(ratio yara_sb kintsugi_sb)   target >= 1.00x"
echo "kintsugi vs yara then sha256sum, signature-base:       $(ratio yara_sb_sha kintsugi_sb)"
echo "CPU seconds, kintsugi over yara, signature-base:        $(awk -v a="${cpu[kintsugi_sb]}" -v b="${cpu[yara_sb]}" 'BEGIN{printf "%+.2f", a-b}')   (hashing, damage, archive members: work yara does not do)"
echo "kintsugi vs yara, built-in pack:                        $(ratio yara_bi kintsugi_bi)"
((have_clam_bi)) && echo "kintsugi vs clamscan, built-in pack:                    $(ratio clamscan_bi kintsugi_bi)   (ClamAV loaded $((clam_total - clam_skipped)) of $clam_total rules)"
echo "rescan vs full scan (speed):                            $(ratio kintsugi_sb rescan_sb)   target >= 20x"
echo "kintsugi vs cat (share of the read limit):              $(ratio cat kintsugi_sb)"
grep -h "host bench" "$work/kintsugi_sb.err" "$work/kintsugi_sb.out" 2>/dev/null | head -1 || true
echo "verdicts (c): $("$k" scan --case "$work/sb.db" --rules "$sb" --host bench --format csv --all "$corpus" 2>/dev/null | awk -F, 'NR>1{c[$3]++} END{for (v in c) printf "%s=%d ", v, c[v]}')"
