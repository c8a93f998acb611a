#!/usr/bin/env bash
# make run: from a fresh Debian 12 machine to the demonstration on the
# patched kernel: install, extract and patch, build, boot, run, report.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
demo=${DEMO:?}

[ -d "$tree/.git" ] || "$top/scripts/tree.sh"
VARIANT=release "$top/scripts/kernel.sh"
SELFTESTS=$demo "$top/scripts/selftests.sh"

mkdir -p "$build/guest" "$build/run"
report=$build/guest/$demo.report
rm -f "$report"
note "booting the patched kernel (QEMU, about a minute) and running $demo"
set +e
"$top/scripts/vm.sh" -v release -t "${RUN_TIMEOUT:-900}" -l "$build/run/console.log" -- \
	sh -c "'$build/selftests/$demo' > '$report' 2>&1" > /dev/null
rc=$?
set -e
echo
[ -f "$report" ] && cat "$report"
"$top/scripts/scan-log.sh" "$build/run/console.log" || rc=1
[ "$rc" -eq 0 ] && echo "demo passed on $(grep -m1 -ao 'Linux version [^ ]*' "$build/run/console.log")"
exit "$rc"
