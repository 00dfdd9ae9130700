#!/bin/sh
# run.sh runs the locmem comparison into $1 (default new.txt) and prints
# benchstat's tables with the engines as columns. COUNT (default 6) is the
# number of samples per benchmark. About 10 minutes on an idle 2-core
# machine; longer when the machine is busy.
#
#	cd bench && ./run.sh            # or: ./run.sh old.txt, COUNT=10 ./run.sh
#
# Each of the COUNT rounds runs every benchmark once (-count 1), so that a
# burst of load from other processes spreads over all engines instead of
# hitting the samples of one. Only the parallel benchmark runs at -cpu 1,2,
# and the hit-ratio replays run once per round (-benchtime 1x).
set -eu
cd "$(dirname "$0")"
out=${1:-new.txt}
count=${COUNT:-6}
go test -c -o bench.test . # one build for every round
trap 'rm -f bench.test' EXIT
: > "$out"
for i in $(seq "$count"); do
	echo "round $i of $count" >&2
	./bench.test -test.run '^$' -test.bench '^Benchmark(GetHit|Set|BytesPerEntry)$' -test.benchmem -test.benchtime 500ms -test.timeout 30m | tee -a "$out"
	./bench.test -test.run '^$' -test.bench '^BenchmarkThroughput$' -test.benchmem -test.benchtime 500ms -test.cpu 1,2 -test.timeout 30m | tee -a "$out"
	./bench.test -test.run '^$' -test.bench '^BenchmarkHitRatio$' -test.benchtime 1x -test.timeout 30m | tee -a "$out"
done
go run golang.org/x/perf/cmd/benchstat@latest -col /engine "$out"
