#!/usr/bin/env bash
# make check-clients: Debian's QEMU and CRIU, unmodified, against the debug
# kernel of the series inside the test guest (scripts/guest-clients.sh says
# what each test checks). Fails on any failed step or kernel splat; ends with
# the line "N passed, N failed, N skipped" like make check.
#
# CLIENT_TESTS="1 2 ..." picks tests by number (make check runs a subset).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -d "$tree/.git" ] || "$top/scripts/tree.sh"
VARIANT=debug "$top/scripts/kernel.sh"
build_clients

res=$build/guest/clients
rm -rf "$res" && mkdir -p "$res"
log=$build/check/clients-console.log
note "booting the debug kernel and running the real clients${CLIENT_TESTS:+ (tests $CLIENT_TESTS)}"
set +e
"$top/scripts/vm.sh" -v debug -t "${CLIENTS_TIMEOUT:-3600}" -l "$log" -- \
	env RESULTS_DIR="$res" CLIENTS_BIN="$build/clients" STEP_TIMEOUT="${STEP_TIMEOUT:-300}" \
	CLIENT_TESTS="${CLIENT_TESTS:-}" "$top/scripts/guest-clients.sh" > /dev/null
vmrc=$?
set -e

f=$res/clients.tap
pass=0 fail=0
if [ -f "$f" ]; then
	planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$f")
	pass=$(grep -c '^ok ' "$f" || true)
	fail=$(grep -c '^not ok ' "$f" || true)
	grep -E '^not ok' "$f" || true
	if [ $((pass + fail)) -lt "${planned:-0}" ]; then
		echo "not ok - only $((pass + fail)) of $planned client tests reported"
		fail=$((planned - pass))
	fi
else
	echo "not ok - the client tests never ran (guest exit $vmrc)"; fail=1
fi
if "$top/scripts/scan-log.sh" "$log"; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
if [ "$vmrc" -ne 0 ]; then
	echo "!! the guest run exited with $vmrc (see $log)"
	fail=$((fail + 1))
fi
echo "TAP and dmesg in $res, console log in $log"
echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
