#!/bin/sh
# check_cli.sh BIN EXAMPLES_DIR — runs weft-history-check on the example
# histories and checks each exit code and summary line (docs/history.md).
set -u
bin=$1
ex=$2
pass=0
fail=0

# expect CODE PATTERN ARGS...: exit code CODE, last line matching PATTERN.
expect() {
	want=$1
	pat=$2
	shift 2
	out=$("$bin" "$@" 2>&1)
	got=$?
	last=$(printf '%s\n' "$out" | tail -n 1)
	if [ "$got" -eq "$want" ] && printf '%s\n' "$last" | grep -Eq "$pat"; then
		echo "ok   - $* -> exit $got"
		pass=$((pass + 1))
	else
		echo "FAIL - $* -> exit $got (want $want), last line: $last"
		printf '%s\n' "$out" | sed 's/^/       /'
		fail=$((fail + 1))
	fi
}

expect 0 '^CHECK ops=14 keys=2 acked_writes=4 lost_writes=0 .* linearizable=yes$' \
	"$ex/register_ok_a.hist" "$ex/register_ok_b.hist"
expect 3 'linearizable=unknown$' --max-states 1 \
	"$ex/register_ok_a.hist" "$ex/register_ok_b.hist"
expect 1 '^CHECK ops=3 keys=1 acked_writes=2 lost_writes=1 .* linearizable=no$' \
	"$ex/register_stale.hist"
expect 1 'lost_messages=1 duplicates=0 phantoms=0 .* linearizable=yes$' "$ex/queue_lost.hist"
expect 1 'lost_messages=0 duplicates=1 phantoms=0 ' "$ex/queue_dup.hist"
expect 0 'lost_messages=0 duplicates=1 phantoms=0 ' --allow-duplicates "$ex/queue_dup.hist"
expect 1 'lost_messages=0 duplicates=0 phantoms=1 ' "$ex/queue_phantom.hist"
expect 0 'double_singletons=0 linearizable=yes$' "$ex/singleton_handover.hist"
expect 1 'double_singletons=1 linearizable=yes$' "$ex/singleton_overlap.hist"
expect 0 'ops=0 .*double_singletons=0' --model register "$ex/singleton_overlap.hist"
expect 2 'bad_line.hist:3: invoke needs read, write or cas' "$ex/bad_line.hist"
expect 2 'No such file' "$ex/does_not_exist.hist"
expect 2 'bad --model' --model bogus "$ex/queue_lost.hist"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
