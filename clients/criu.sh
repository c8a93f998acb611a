#!/usr/bin/env bash
# Debian's CRIU as a client of the series, inside the test guest.
#
#   clients/criu.sh MODE MEMTEST_BINARY
#
# check:   `criu check`, and the two features the other modes rely on:
#          mem_dirty_track (soft-dirty) and uffd-noncoop (userfaultfd with
#          the fork/remap/remove/unmap events).
# predump: two pre-dumps (soft-dirty memory tracking), an incremental dump
#          on top of them, restore; crit must show that each image leaves
#          its unchanged pages to its parent, and the restored criu-memtest
#          checks its own memory.
# shmem:   CRIU_TRACK_SHMEM=1, CRIU's switch for tracking shared memory
#          too. CRIU saves shared memory only in a dump, never in a
#          pre-dump, so the parent is a full dump --leave-running
#          --track-mem; the final dump is incremental for the private
#          memory, CRIU says it tracks shared memory, and the restored
#          process checks all of it.
# stale:   negative control: the predump run, but restored with the final
#          dump's parent link pointing at the first pre-dump instead of
#          the second, so that the pages written between the pre-dumps
#          come back a generation too old. The restored process must
#          report FAIL; this mode passes when it does.
# lazy:    remote lazy migration: `dump --lazy-pages` keeps the memory in
#          the dumped process and serves it as a page server on loopback,
#          `lazy-pages --page-server` fetches it, `restore --lazy-pages`
#          hands it to the restored process through userfaultfd missing
#          faults. criu-memtest runs as the init of its own pid namespace
#          so that its copy can be restored while it is still being dumped.
# Prints PASS/FAIL/BROKEN like qemu-clients.py; exit 0, 1 or 2.
set -uo pipefail
mode=${1:?check, predump, shmem, stale or lazy} memtest=${2:?path of criu-memtest}
step=${STEP_TIMEOUT:-300}
work=$(mktemp -d /tmp/criu-$mode-XXXXXX)
pid="" lazy="" dumper="" holder=""
port=27027
here=$(cd "$(dirname "$0")" && pwd)

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
	# Each of these leads a process group (setsid, or timeout's own).
	for p in $pid $lazy $dumper $holder; do
		[ "$p" -gt 1 ] && kill -9 -- "-$p" "$p" 2>/dev/null
	done
	rm -rf "$work"
	exit "$rc"
}
trap 'finish 2 "stopped by a signal (the step timed out)"' TERM INT
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
# pagemap DIR KIND CHECKS...: clients/criu-pagemap.py (crit) on DIR's images;
# a check that does not hold fails the test.
pagemap() {
	"$here/criu-pagemap.py" "$@"
	case $? in
	0) ;;
	1) finish 1 "the images in $(basename "$1") are not what the run must produce" ;;
	*) finish 2 "crit could not decode the images in $(basename "$1")" ;;
	esac
}

command -v criu >/dev/null || finish 2 "criu not installed"
if [ "$mode" = check ]; then
	for f in "" mem_dirty_track uffd-noncoop; do
		out=$(timeout -k 5 "$step" criu check ${f:+--feature "$f"} 2>&1)
		rc=$?
		say "criu check ${f:+--feature $f}: $(echo "$out" | tail -1)"
		[ "$rc" -eq 0 ] || { echo "$out" | tail -5 | sed 's/^/# /'; finish 1 "criu check ${f:-} failed"; }
	done
	finish 0 "the kernel has everything criu check asks for"
fi

if [ "$mode" = lazy ]; then
	ip link set lo up 2>/dev/null
	# The parasite mounts a proc for the pid namespace in a directory it
	# creates in the task's working directory: give it a writable one.
	# Its session leader must be inside the namespace too: setsid there.
	(cd "$work" && exec unshare --pid --fork setsid "$memtest" "$work/status" \
		</dev/null >/dev/null 2>&1) &
	holder=$!
	wait_status READY || finish 2 "criu-memtest never became ready"
	pid=$(pgrep -P "$holder")
	[ -n "$pid" ] || finish 2 "no criu-memtest under unshare $holder"
else
	(cd "$work" && exec setsid "$memtest" "$work/status" </dev/null >/dev/null 2>&1) &
	pid=$!
	wait_status READY || finish 2 "criu-memtest never became ready"
fi
# READY PAGES HOT PRIVATE_ADDRESS: each region has PAGES pages, the first
# HOT of them keep being rewritten, the rest never after the start.
read -r _ npages nhot priv < "$work/status"
hot_end=$((nhot * 4096)) end=$((npages * 4096))
cold_task=$(printf '%#x:%#x' $((priv + hot_end)) $((priv + end)))
hot_task=$(printf '%#x:%#x' "$priv" $((priv + hot_end)))
sleep 1

case $mode in
predump|stale)
	criu_do pre1 pre1 pre-dump -t "$pid" --track-mem
	sleep 1
	criu_do pre2 pre2 pre-dump -t "$pid" --track-mem --prev-images-dir ../pre1
	sleep 1
	criu_do dump dump dump -t "$pid" --track-mem --prev-images-dir ../pre2
	wait "$pid" 2>/dev/null	# reap it: its pid must be free for the restore
	# Each image saved pages written since its parent and left every
	# never-rewritten private page to it.
	pagemap "$work/pre2" task --parent "$cold_task" --present "$hot_task"
	pagemap "$work/dump" task --parent "$cold_task" --present "$hot_task"
	say "shared memory, saved whole (CRIU_TRACK_SHMEM is not set):"
	pagemap "$work/dump" shmem
	if [ "$mode" = stale ]; then
		ln -sfn ../pre1 "$work/dump/parent"
		say "the final dump's parent link now points at the first pre-dump"
	fi
	rm -f "$work/status"
	criu_do dump restore restore --restore-detached
	;;
shmem)
	export CRIU_TRACK_SHMEM=1
	criu_do full full dump -t "$pid" --track-mem --leave-running
	sleep 1
	criu_do dump dump dump -t "$pid" --track-mem --prev-images-dir ../full
	wait "$pid" 2>/dev/null
	pagemap "$work/dump" task --parent "$cold_task" --present "$hot_task"
	# CRIU 3.17 still saves both shared objects whole here, although the
	# kernel reports soft-dirty for shared anonymous memory: shown, not
	# asserted, since it is CRIU's choice.
	pagemap "$work/dump" shmem
	rm -f "$work/status"
	criu_do dump restore restore --restore-detached
	;;
lazy)
	mkdir -p "$work/dump"
	timeout -k 5 $((step * 2)) criu dump -t "$pid" --lazy-pages --address 127.0.0.1 \
		--port "$port" -D "$work/dump" -o "$work/dump.log" -v4 &
	dumper=$!
	for ((i = 0; ; i++)); do
		ss -Htln "sport = :$port" | grep -q . && break
		kill -0 "$dumper" 2>/dev/null || finish 2 "criu dump --lazy-pages exited early"
		[ "$i" -lt $((step * 5)) ] || finish 2 "criu dump --lazy-pages never listened"
		sleep 0.2
	done
	# The private memory stayed behind, to be served by the page server.
	pagemap "$work/dump" task --lazy "$cold_task"
	timeout -k 5 "$step" criu lazy-pages --page-server --address 127.0.0.1 --port "$port" \
		-D "$work/dump" -o "$work/lazyd.log" -v4 >/dev/null 2>&1 &
	lazy=$!
	# Give the daemon time to connect and open its socket for the restore.
	for ((i = 0; i < 100; i++)); do
		[ -S "$work/dump/lazy-pages.socket" ] && break
		kill -0 "$lazy" 2>/dev/null || finish 2 "criu lazy-pages exited early"
		sleep 0.2
	done
	rm -f "$work/status"
	criu_do dump restore restore --restore-detached --lazy-pages --pidfile "$work/restored.pid"
	[ -s "$work/restored.pid" ] || finish 2 "criu restore wrote no pid file"
	pid=$(cat "$work/restored.pid")
	;;
*) finish 2 "unknown mode $mode" ;;
esac

# The restored process: signal it to check its memory.
sleep 1
kill -0 "$pid" 2>/dev/null || finish 1 "the restored process is gone"
kill -USR1 "$pid"
wait_status 'PASS|FAIL' || finish 2 "the restored process never reported"
result=$(cat "$work/status")
say "restored criu-memtest: $result"
if [ "$mode" = lazy ]; then
	wait "$lazy"
	lrc=$?
	lazy=""
	wait "$dumper"
	drc=$?
	dumper=""
	[ "$lrc" -eq 0 ] || finish 2 "criu lazy-pages exited $lrc"
	[ "$drc" -eq 0 ] || finish 2 "criu dump --lazy-pages exited $drc"
	grep -F 'Error (' "$work/lazyd.log" | head -5 | sed 's/^/# lazy-pages: /'
	grep -qF 'Error (' "$work/lazyd.log" && finish 1 "the lazy-pages daemon reported errors"
	# "#PF at ADDR" per userfaultfd missing fault the daemon handled.
	faults=$(grep -cE '#PF at 0x[0-9a-f]+$' "$work/lazyd.log" || true)
	say "lazy-pages daemon handled $faults page faults"
	[ "$faults" -gt 0 ] || finish 1 "the lazy-pages daemon handled no page faults"
fi
case $mode,$result in
stale,"FAIL private anonymous page "*)
	# Only a rewritten page can come back too old.
	n=${result#FAIL private anonymous page }
	n=${n%% *}
	[ "$n" -lt "$nhot" ] || finish 1 "the restored process failed on a page never rewritten: $result"
	finish 0 "the restored process noticed its pages a generation too old" ;;
stale,*) finish 1 "restored with stale pages, and the process did not notice: $result" ;;
*,PASS*) finish 0 "$result" ;;
*) finish 1 "$result" ;;
esac
