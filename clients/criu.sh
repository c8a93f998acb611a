#!/usr/bin/env bash
# Debian's CRIU as a client of the series, inside the test guest.
#
#   clients/criu.sh predump|lazy MEMTEST_BINARY
#
# predump: two pre-dumps (soft-dirty memory tracking), an incremental dump
#          on top of them, restore; the restored criu-memtest checks its
#          own memory.
# lazy:    dump, then restore with --lazy-pages: the lazy-pages daemon
#          serves anonymous memory through userfaultfd missing faults.
# Prints PASS/FAIL/BROKEN like qemu-clients.py; exit 0, 1 or 2.
set -uo pipefail
mode=${1:?predump or lazy} memtest=${2:?path of criu-memtest}
step=${STEP_TIMEOUT:-300}
work=$(mktemp -d /tmp/criu-$mode-XXXXXX)
pid="" lazy=""

say() { echo "# $*"; }
finish() {
	local rc=$1 what=$2
	case $rc in 0) echo "PASS criu $mode: $what" ;; 1) echo "FAIL criu $mode: $what" ;;
	*) echo "BROKEN criu $mode: $what" ;; esac
	if [ "$rc" -ne 0 ]; then
		for l in "$work"/*.log; do
			[ -f "$l" ] && grep -E 'Error|Warn' "$l" | tail -10 | sed "s|^|# $(basename "$l"): |"
		done
	fi
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	[ -n "$lazy" ] && kill -9 "$lazy" 2>/dev/null
	rm -rf "$work"
	exit "$rc"
}
# Wait until the status file has content matching $1.
wait_status() {
	local i
	for ((i = 0; i < step * 5; i++)); do
		grep -qE "$1" "$work/status" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}
# criu_do IMAGES_DIR LOG_NAME ARGS...: one criu command under the step timeout.
criu_do() {
	local dir=$work/$1 log=$work/$2.log; shift 2
	mkdir -p "$dir"
	timeout -k 5 "$step" criu "$@" -D "$dir" -o "$log" -v4 ||
		finish 2 "criu $* failed (exit $?)"
}

command -v criu >/dev/null || finish 2 "criu not installed"
setsid "$memtest" "$work/status" </dev/null >/dev/null 2>&1 &
pid=$!
wait_status READY || finish 2 "criu-memtest never became ready"
sleep 1

case $mode in
predump)
	criu_do pre1 pre1 pre-dump -t "$pid" --track-mem
	sleep 1
	criu_do pre2 pre2 pre-dump -t "$pid" --track-mem --prev-images-dir ../pre1
	sleep 1
	criu_do dump dump dump -t "$pid" --track-mem --prev-images-dir ../pre2
	;;
lazy)
	criu_do dump dump dump -t "$pid"
	;;
*) finish 2 "unknown mode $mode" ;;
esac
wait "$pid" 2>/dev/null	# reap it: its pid must be free for the restore
# The dump must have been incremental: the pre-dumps saved pages that
# the final dump then left to them (its pages image links to ../pre2).
if [ "$mode" = predump ]; then
	grep -q 'prev' "$work/dump.log" || finish 1 "the final dump did not use the pre-dump images"
fi

rm -f "$work/status"
if [ "$mode" = lazy ]; then
	timeout -k 5 "$step" criu lazy-pages -D "$work/dump" -o "$work/lazyd.log" -v4 &
	lazy=$!
	sleep 1
	criu_do dump restore restore --restore-detached --lazy-pages
else
	criu_do dump restore restore --restore-detached
fi
# Restored with its old pid, and still tracked as our $pid.
sleep 1
kill -0 "$pid" 2>/dev/null || finish 1 "the restored process is gone"
kill -USR1 "$pid"
wait_status 'PASS|FAIL' || finish 2 "the restored process never reported"
result=$(cat "$work/status")
if [ "$mode" = lazy ]; then
	wait "$lazy" 2>/dev/null
	lazy=""
	# The daemon must have served the memory: page faults it resolved and
	# its closing count of transferred pages.
	faults=$(grep -c '#PF' "$work/lazyd.log" || true)
	grep -iE 'transferred' "$work/lazyd.log" | tail -2 | sed 's/^/# lazy-pages: /'
	say "lazy-pages daemon resolved $faults page faults"
	[ "$faults" -gt 0 ] || finish 1 "the lazy-pages daemon resolved no page faults"
fi
case $result in
PASS*) finish 0 "$result" ;;
*) finish 1 "$result" ;;
esac
