#!/bin/sh
# Runs each importer benchmark once in its own process under /usr/bin/time
# and prints wall time, CPU time (user+sys) and peak RSS. The files come from
# make-bench.sh. On a busy machine trust CPU time over wall time.
#   sh importer/testdata/bench.sh [regexp]
set -eu
cd "$(dirname "$0")/.."
BIN=$(mktemp)
trap 'rm -f "$BIN"' EXIT
go test -c -o "$BIN" .
for b in $(grep -ho "^func Benchmark[A-Za-z0-9]*" bench_test.go internal_bench_test.go | sed 's/func //'); do
	case "$b" in *${1:-}*) ;; *) continue ;; esac
	/usr/bin/time -f "$b wall=%e s cpu=%U+%S s maxrss=%M KB" "$BIN" -test.run '^$' -test.bench "^$b\$" -test.benchtime 1x -test.benchmem 2>&1 |
		grep -E "^($b|Benchmark)" | grep -v '^Benchmark.*PASS'
done
