# Shared settings for the helper scripts; sourced, not run.
# shellcheck shell=bash
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$top/build}
tree=${TREE:-$build/linux}
# shellcheck source=../base-version
. "$top/base-version"

die() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }
note() { printf '==> %s\n' "$*" >&2; }

# apt-get install only what is missing, without recommends.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	note "installing ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install ${missing[*]} (or install them yourself)"
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
	fi
}

# The payloads of the real-client tests (scripts/guest-clients.sh), into
# build/clients: the sweep firmware with its symbols, and criu-memtest.
build_clients() {
	local bin=$build/clients
	need_pkgs qemu-system-x86 criu stress-ng gcc binutils
	mkdir -p "$bin"
	gcc -c -o "$bin/sweep.o" "$top/clients/sweep.S"
	ld -m elf_x86_64 -Ttext=0 -e _start -o "$bin/sweep.elf" "$bin/sweep.o"
	objcopy -O binary "$bin/sweep.elf" "$bin/sweep.bin"
	nm "$bin/sweep.elf" > "$bin/sweep.sym"
	[ "$(stat -c %s "$bin/sweep.bin")" = 65536 ] || die "sweep.bin is not a 64 KiB ROM"
	gcc -O2 -Wall -Wextra -Werror -o "$bin/criu-memtest" "$top/clients/criu-memtest.c"
}
