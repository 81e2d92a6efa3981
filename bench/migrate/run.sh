#!/usr/bin/env bash
# bench/migrate: kintsugi migrate against what responders do today, on one
# tree, in one run, local to local and local to S3 (versitygw):
#
#   bench/migrate/run.sh [CORPUS]   (default: make-corpus --profile bench in $TMPDIR)
#   BENCH_CACHE=warm BENCH_REPEAT=3 bench/migrate/run.sh ...
#
#   (a) rclone copy --checksum                      copy only, nothing screened
#   (b) yara -r -p 2 (rules precompiled), then      scan-then-copy: two tools,
#       rclone copy --checksum                      every byte read twice
#   (c) kintsugi migrate --rules signature-base     one read: screen, hash, copy, fsync,
#                                                   read back, signed manifest
#   (b') and (c') the same with kintsugi's built-in pack only
# The YARA rules are the same for (b) and (c): kintsugi's built-in pack
# (kintsugi rules export) plus Neo23x0 signature-base, precompiled with
# yarac for yara (kintsugi compiles them at start, inside its time).
#
# BENCH_CACHE=cold (the default, as root): the page cache is dropped before
# every contender, as in a real migration of tens of TB that never fit in
# memory, so reading the source twice costs what it costs. BENCH_CACHE=warm:
# the source is read into the page cache before every contender, which
# measures CPU and destination costs only. Prints seconds, MB/s, CPU seconds
# (user + system) and the ratios; the figures go into the README.
set -euo pipefail
. "$(dirname "$0")/../common.sh"
corpus=$(bench_corpus "${1:-}")
sb=$shared/data/yara-rules/signature-base
[[ -d $sb ]] || { echo "bench/migrate: $sb not found" >&2; exit 2; }
for tool in yara yarac rclone; do
  command -v $tool >/dev/null || { echo "bench/migrate: $tool not installed (apt-get install yara rclone)" >&2; exit 2; }
done
vgwdir="${XDG_CACHE_HOME:-$HOME/.cache}/kintsugi-tools/versitygw-v1.8.0"
vgw=${KINTSUGI_VERSITYGW:-$vgwdir/versitygw}
if [[ ! -x $vgw ]]; then
  echo "building versitygw v1.8.0 into $vgwdir (about 3 minutes)" >&2
  GOBIN="$vgwdir" go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

work=$(mktemp -d)
vgwpid=
cleanup() {
  [[ -n $vgwpid ]] && kill "$vgwpid" 2>/dev/null && wait "$vgwpid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$root" && go build -o "$work/kintsugi" ./cmd/kintsugi)
k=$work/kintsugi
"$k" rules export -o "$work/builtin.yar"
ext=(-d filename= -d filepath= -d extension= -d filetype= -d owner=)
mapfile -t sbfiles < <(find "$sb" -name '*.yar' -o -name '*.yara' | sort)
yarac "${ext[@]}" "$work/builtin.yar" "${sbfiles[@]}" "$work/rules.yarc" 2>/dev/null
yarac "${ext[@]}" "$work/builtin.yar" "$work/builtin.yarc"
"$k" key generate -o "$work/bench.key" >/dev/null

# The S3 server: versitygw, POSIX backend on the same disk, loopback only,
# keys made up for this run (never printed).
access=bench$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
port=$((20000 + RANDOM % 20000))
mkdir -p "$work/s3root/bench"
ROOT_ACCESS_KEY_ID=$access ROOT_SECRET_ACCESS_KEY=$secret "$vgw" --port "127.0.0.1:$port" --quiet posix "$work/s3root" >"$work/vgw.log" 2>&1 &
vgwpid=$!
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done
export AWS_ACCESS_KEY_ID=$access AWS_SECRET_ACCESS_KEY=$secret AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_REGION=us-east-1
export RCLONE_CONFIG_BENCHS3_TYPE=s3 RCLONE_CONFIG_BENCHS3_PROVIDER=Other RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID=$access \
  RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY=$secret RCLONE_CONFIG_BENCHS3_ENDPOINT=http://127.0.0.1:$port \
  RCLONE_CONFIG_BENCHS3_REGION=us-east-1 RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE=true

bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
files=$(find "$corpus" -type f | wc -l)
echo "corpus: $corpus, $files files, $(awk -v b="$bytes" 'BEGIN{printf "%.1f MB", b/1e6}')"
echo "cpu: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(rclone version | head -1), yara $(yara --version), versitygw v1.8.0, kintsugi $("$k" version | head -1 | cut -d' ' -f2)"

cache=${BENCH_CACHE:-cold}
if [[ $cache == cold && ! -w /proc/sys/vm/drop_caches ]]; then
  echo "bench/migrate: cannot drop the page cache (not root?): measuring with a warm cache" >&2
  cache=warm
fi
echo "page cache: $cache"

declare -A secs
reps=${BENCH_REPEAT:-2}
echo "each contender runs $reps times; the fastest run counts (the machine is shared)"
rep=0
# drop_or_warm: the page cache state every contender starts from.
drop_or_warm() {
  sync
  if [[ $cache == cold ]]; then
    echo 3 >/proc/sys/vm/drop_caches
  else
    find "$corpus" -type f -exec cat {} + >/dev/null
  fi
}
# clean: remove every copy, so that each run starts from an empty
# destination and an empty case store.
clean() {
  rm -rf "$work"/dst-* "$work"/case-*.db*
  env -u AWS_CA_BUNDLE rclone purge benchs3:bench 2>/dev/null || true
  mkdir -p "$work/s3root/bench"
}
# time_run NAME FUNC: the fastest of $reps runs of FUNC, in wall seconds,
# and the CPU seconds (user + system, FUNC's processes; not the S3
# server's) of that run. Exit 0 and 1 are success for yara and kintsugi
# (1: something found).
declare -A cpu
time_run() {
  local name=$1 fn=$2 rc best= t u s
  for rep in $(seq "$reps"); do
    clean
    drop_or_warm
    rc=0
    TIMEFORMAT='%R %U %S'
    { time "$fn" >"$work/$name.out" 2>"$work/$name.err" || rc=$?; } 2>"$work/$name.time"
    if ((rc > 1)); then
      echo "bench/migrate: $name failed (exit $rc):" >&2; tail -5 "$work/$name.err" >&2; exit 2
    fi
    read -r t u s < <(tail -1 "$work/$name.time")
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=$t
      cpu[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
    fi
  done
  secs[$name]=$best
  echo "  $name: best of $reps ${best}s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
}
# rclone 1.60's S3 client refuses any AWS_CA_BUNDLE with a plain-http
# endpoint; a failed rclone must not pass as "found".
run_rclone() {
  env -u AWS_CA_BUNDLE rclone copy --checksum "$@" || return 9
}
scan_then_copy() { # RULES DST
  yara -r -p 2 -C "$1" "${ext[@]}" "$corpus" >"$work/yara.hits" 2>/dev/null || true
  run_rclone "$corpus" "$2"
}
migrate() { # NAME DST [FLAGS...]
  local name=$1 dst=$2; shift 2
  "$k" migrate -q --case "$work/case-$name.db" --sign-key "$work/bench.key" --manifest "$work/$name.jsonl" --host bench "$@" "$corpus" "$dst"
}
rclone_local()      { run_rclone "$corpus" "$work/dst-rclone"; }
# kintsugi fsyncs every file before it calls it migrated; rclone leaves its
# writes in the page cache. The "+ sync" rows wait until rclone's copy is on
# the disk too, which is the fair comparison of what a crash would leave.
rclone_local_sync()   { rclone_local && sync; }
scancopy_local_sync() { scancopy_local && sync; }
scancopy_local()    { scan_then_copy "$work/rules.yarc" "$work/dst-scancopy"; }
kintsugi_local()    { migrate local "$work/dst-kintsugi" --rules "$sb"; }
scancopy_local_bi() { scan_then_copy "$work/builtin.yarc" "$work/dst-scancopy"; }
kintsugi_local_bi() { migrate local-bi "$work/dst-kintsugi"; }
rclone_s3()         { run_rclone "$corpus" benchs3:bench/rclone; }
scancopy_s3()       { scan_then_copy "$work/rules.yarc" benchs3:bench/scancopy; }
kintsugi_s3()       { migrate s3 s3://bench/kintsugi --rules "$sb"; }
scancopy_s3_bi()    { scan_then_copy "$work/builtin.yarc" benchs3:bench/scancopy; }
kintsugi_s3_bi()    { migrate s3-bi s3://bench/kintsugi; }
for c in rclone_local rclone_local_sync scancopy_local scancopy_local_sync kintsugi_local scancopy_local_bi kintsugi_local_bi \
  rclone_s3 scancopy_s3 kintsugi_s3 scancopy_s3_bi kintsugi_s3_bi; do
  time_run "$c" "$c"
done
clean

mbs() { awk -v b="$bytes" -v s="${secs[$1]}" 'BEGIN{printf "%8.1f", b/1e6/s}'; }
ratio() { awk -v a="${secs[$1]}" -v b="${secs[$2]}" 'BEGIN{printf "%.2fx", a/b}'; }
printf '\n%-62s %8s %9s %8s\n' "run" "seconds" "MB/s" "CPU s"
row() { printf '%-62s %8s %9s %8s\n' "$1" "${secs[$2]}" "$(mbs "$2")" "${cpu[$2]}"; }
row "local (a)  rclone copy --checksum" rclone_local
row "local (a)  ... + sync (until the copy is on disk)" rclone_local_sync
row "local (b)  yara -r -p 2 (sig-base), then rclone copy --checksum" scancopy_local
row "local (b)  ... + sync" scancopy_local_sync
row "local (c)  kintsugi migrate --rules signature-base" kintsugi_local
row "local (b') yara -r -p 2 (built-in), then rclone copy --checksum" scancopy_local_bi
row "local (c') kintsugi migrate (built-in rules)" kintsugi_local_bi
row "S3    (a)  rclone copy --checksum" rclone_s3
row "S3    (b)  yara -r -p 2 (sig-base), then rclone copy --checksum" scancopy_s3
row "S3    (c)  kintsugi migrate --rules signature-base" kintsugi_s3
row "S3    (b') yara -r -p 2 (built-in), then rclone copy --checksum" scancopy_s3_bi
row "S3    (c') kintsugi migrate (built-in rules)" kintsugi_s3_bi
echo
for d in local s3; do
  D=$(echo $d | tr a-z A-Z)
  echo "$D signature-base: kintsugi vs scan-then-copy $(ratio scancopy_$d kintsugi_$d) (target >= 1.50x), vs rclone alone $(ratio rclone_$d kintsugi_$d) (target >= 0.80x)"
  echo "$D built-in pack:  kintsugi vs scan-then-copy $(ratio scancopy_${d}_bi kintsugi_${d}_bi), vs rclone alone $(ratio rclone_$d kintsugi_${d}_bi)"
done
echo "LOCAL, rclone's copy on disk (+ sync): kintsugi vs scan-then-copy $(ratio scancopy_local_sync kintsugi_local), vs rclone alone $(ratio rclone_local_sync kintsugi_local)"
for m in local s3 local-bi s3-bi; do
  echo "kintsugi $m: $("$k" manifest verify --key "$work/bench.key.pub" --format jsonl "$work/$m.jsonl" |
    sed -E 's/.*"ok":([a-z]+).*"migrated":([0-9]+),"migrated_bytes":([0-9]+),"refused":([0-9]+).*/manifest ok=\1: \2 files migrated (\3 bytes), \4 refused/')"
done
echo "yara hits (b): $(cut -d' ' -f2 "$work/yara.hits" | sort -u | wc -l) files; load after: $(cut -d' ' -f1-3 /proc/loadavg)"
