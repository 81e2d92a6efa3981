# bench/common.sh: sourced by the bench/*/run.sh scripts. Sets here (the
# script's folder), root (the repository), shared (../shared beside it) and
# the Go settings, and defines bench_corpus.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$(cd "$root/.." && pwd)/shared
export GONOSUMDB=www.velocidex.com GOFLAGS=-mod=mod

# bench_corpus [DIR]: prints the bench corpus folder (DIR, default
# $TMPDIR/kintsugi-bench-corpus), building it with make-corpus --profile
# bench first when it holds no labels.jsonl.
bench_corpus() {
  local corpus=${1:-${TMPDIR:-/tmp}/kintsugi-bench-corpus}
  if [[ ! -f $corpus/labels.jsonl ]]; then
    if [[ ! -x $shared/corpus/make-corpus ]]; then
      echo "kintsugi: no bench corpus in $corpus, and no $shared/corpus/make-corpus to build one" >&2
      return 1
    fi
    echo "building the bench corpus in $corpus (about 5 minutes)" >&2
    "$shared/corpus/make-corpus" --profile bench --out "$corpus" --install-deps >&2
  fi
  echo "$corpus"
}
