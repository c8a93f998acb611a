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
# shmem:   the same with CRIU_TRACK_SHMEM=1, CRIU's switch for tracking
#          shared memory too: the shared anonymous and memfd pages must
#          also be left to the parent images.
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
	for p in $pid $lazy $dumper $holder; do
		[ "$p" -gt 1 ] && kill -9 "$p" 2>/dev/null
	done
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
# pages DIR KIND: "PRESENT PARENT LAZY", the pages that DIR's pagemap images
# of KIND (task or shmem) hold themselves, leave to the parent image, or
# leave to be fetched lazily, as crit decodes them.
pages() {
	local f
	case $2 in
	task) set -- "$1"/pagemap-[0-9]*.img ;;
	shmem) set -- "$1"/pagemap-shmem-*.img ;;
	esac
	for f in "$@"; do
		[ -f "$f" ] || continue
		crit decode -i "$f" || return 1
	done | /usr/bin/python3 -c '
import json, sys
bits = {"PE_PARENT": 1, "PE_LAZY": 2, "PE_PRESENT": 4}
dec = json.JSONDecoder()
text, pos, n = sys.stdin.read(), 0, dict.fromkeys(bits, 0)
while pos < len(text):
    while pos < len(text) and text[pos].isspace():
        pos += 1
    if pos == len(text):
        break
    img, pos = dec.raw_decode(text, pos)
    for e in img["entries"][1:]:
        f = e.get("flags", 0)
        if isinstance(f, str):
            f = sum(bits.get(x.strip(), 0) for x in f.split("|")) if "PE_" in f else int(f, 0)
        if e.get("in_parent"):
            f |= bits["PE_PARENT"]
        for name, bit in bits.items():
            if f & bit:
                n[name] += e["nr_pages"]
print(n["PE_PRESENT"], n["PE_PARENT"], n["PE_LAZY"])'
}
# need_parent DIR KIND WHAT MIN: DIR's KIND pages must have been saved
# incrementally: some saved (written since the parent image), and at least
# MIN (the pages criu-memtest never rewrites) left to the parent.
need_parent() {
	local present parent f
	read -r present parent _ < <(pages "$1" "$2") || finish 2 "crit decode failed in $1"
	say "$(basename "$1"): $3: $present pages saved, $parent left to the parent image" \
		"(at least $4 expected)"
	if [ "${parent:-0}" -lt "$4" ] || [ "${present:-0}" -eq 0 ]; then
		say "images in $(basename "$1"): $(cd "$1" && echo *)"
		for f in "$1"/pagemap-*.img; do
			[ -f "$f" ] && crit decode -i "$f" 2>&1 | head -c 600 | sed "s|^|# $(basename "$f"): |"
		done
	fi
	[ "${parent:-0}" -ge "$4" ] ||
		finish 1 "$(basename "$1") saved unchanged $3 pages again: not incremental"
	[ "${present:-0}" -gt 0 ] ||
		finish 1 "$(basename "$1") saved none of the $3 pages written since its parent"
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
	setsid unshare --pid --fork "$memtest" "$work/status" </dev/null >/dev/null 2>&1 &
	holder=$!
	wait_status READY || finish 2 "criu-memtest never became ready"
	pid=$(pgrep -P "$holder")
	[ -n "$pid" ] || finish 2 "no criu-memtest under unshare $holder"
else
	setsid "$memtest" "$work/status" </dev/null >/dev/null 2>&1 &
	pid=$!
	wait_status READY || finish 2 "criu-memtest never became ready"
fi
cp "$work/status" "$work/ready"
sleep 1

case $mode in
predump|shmem|stale)
	[ "$mode" = shmem ] && export CRIU_TRACK_SHMEM=1
	criu_do pre1 pre1 pre-dump -t "$pid" --track-mem
	sleep 1
	criu_do pre2 pre2 pre-dump -t "$pid" --track-mem --prev-images-dir ../pre1
	sleep 1
	criu_do dump dump dump -t "$pid" --track-mem --prev-images-dir ../pre2
	wait "$pid" 2>/dev/null	# reap it: its pid must be free for the restore
	cold=$(awk '/^READY/ { print $2 }' "$work/ready")
	need_parent "$work/pre2" task "private" "$cold"
	need_parent "$work/dump" task "private" "$cold"
	read -r sp spar _ < <(pages "$work/dump" shmem)
	say "dump: shared: ${sp:-0} pages saved, ${spar:-0} left to the parent image"
	if [ "$mode" = shmem ]; then
		need_parent "$work/pre2" shmem "shared" $((2 * cold))
		need_parent "$work/dump" shmem "shared" $((2 * cold))
	fi
	if [ "$mode" = stale ]; then
		ln -sfn ../pre1 "$work/dump/parent"
		say "the final dump's parent link now points at the first pre-dump"
	fi
	rm -f "$work/status"
	criu_do dump restore restore --restore-detached
	;;
lazy)
	mkdir -p "$work/dump"
	criu dump -t "$pid" --lazy-pages --address 127.0.0.1 --port "$port" \
		-D "$work/dump" -o "$work/dump.log" -v4 &
	dumper=$!
	for ((i = 0; i < step * 5; i++)); do
		ss -Htln "sport = :$port" | grep -q . && break
		kill -0 "$dumper" 2>/dev/null || finish 2 "criu dump --lazy-pages exited early"
		sleep 0.2
	done
	read -r lp _ ll < <(pages "$work/dump" task)
	say "dump: ${lp:-0} pages saved in the images, ${ll:-0} left to be served lazily"
	[ "${ll:-0}" -gt 0 ] || finish 1 "the dump left no page to the lazy-pages daemon"
	timeout -k 5 "$step" criu lazy-pages --page-server --address 127.0.0.1 --port "$port" \
		-D "$work/dump" -o "$work/lazyd.log" -v4 &
	lazy=$!
	sleep 1
	rm -f "$work/status"
	criu_do dump restore restore --restore-detached --lazy-pages --pidfile "$work/restored.pid"
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
	wait "$lazy" 2>/dev/null
	lazy=""
	wait "$dumper" 2>/dev/null
	rc=$?
	dumper=""
	[ "$rc" -eq 0 ] || finish 2 "criu dump --lazy-pages exited $rc"
	# The daemon must have served the memory: page faults it resolved.
	faults=$(grep -c '#PF' "$work/lazyd.log" || true)
	say "lazy-pages daemon resolved $faults page faults"
	[ "$faults" -gt 0 ] || finish 1 "the lazy-pages daemon resolved no page faults"
fi
case $mode,$result in
stale,FAIL*) finish 0 "the restored process noticed its pages a generation too old" ;;
stale,*) finish 1 "restored with stale pages, and the process did not notice: $result" ;;
*,PASS*) finish 0 "$result" ;;
*) finish 1 "$result" ;;
esac
