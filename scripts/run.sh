#!/usr/bin/env bash
# make run: from a fresh Debian 12 machine to the demonstrations on the
# patched kernel: install, extract and patch, build, boot, run, report.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
demos=${DEMO:?}

[ -d "$tree/.git" ] || "$top/scripts/tree.sh"
VARIANT=release "$top/scripts/kernel.sh"
SELFTESTS=$demos "$top/scripts/selftests.sh"

mkdir -p "$build/guest" "$build/run"
cmd=
for demo in $demos; do
	rm -f "$build/guest/$demo.report"
	cmd+="'$build/selftests/$demo' > '$build/guest/$demo.report' 2>&1; echo \$? > '$build/guest/$demo.rc'; "
done
note "booting the patched kernel (QEMU, about a minute) and running: $demos"
set +e
"$top/scripts/vm.sh" -v release -t "${RUN_TIMEOUT:-900}" -l "$build/run/console.log" -- \
	sh -c "$cmd" > /dev/null
rc=$?
set -e
for demo in $demos; do
	echo
	report=$build/guest/$demo.report
	[ -f "$report" ] && cat "$report"
	drc=$(cat "$build/guest/$demo.rc" 2>/dev/null || echo missing)
	if [ "$drc" != 0 ]; then
		echo "!! $demo exited with $drc"
		rc=1
	fi
done
"$top/scripts/scan-log.sh" "$build/run/console.log" || rc=1
[ "$rc" -eq 0 ] && echo "demos passed on $(grep -m1 -ao 'Linux version [^ ]*' "$build/run/console.log")"
exit "$rc"
