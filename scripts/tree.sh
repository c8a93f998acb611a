#!/usr/bin/env bash
# make tree: build/linux = pristine Debian linux-source-6.1 (commit tagged `base`)
# plus every patch of patches/series applied with git am.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

need_pkgs "$package" git xz-utils

have=$(dpkg-query -W -f='${Version}' "$package")
if [ "$have" != "$version" ]; then
	printf '\n!! WARNING: %s %s is installed but the series is pinned to %s (base-version).\n' \
		"$package" "$have" "$version" >&2
	printf '!! Patches may not apply or may behave differently; update base-version after checking.\n\n' >&2
fi

tarball=/usr/src/$package.tar.xz
[ -f "$tarball" ] || die "$tarball is missing; reinstall $package"

export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-uffd-wp series}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-uffd-wp@localhost}"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"

if [ -d "$tree/.git" ] && git -C "$tree" rev-parse -q --verify base >/dev/null; then
	# Reuse the extracted base, but never throw away work that is not in patches/.
	if [ -n "$(git -C "$tree" status --porcelain --untracked-files=no)" ]; then
		die "$tree has uncommitted changes; commit and 'make export' them, or remove $tree"
	fi
	if [ "${FORCE:-0}" != 1 ] && ! "$top/scripts/export.sh" --check >/dev/null 2>&1; then
		die "commits in $tree (base..HEAD) differ from patches/; 'make export' first, or 'make tree FORCE=1' to drop them"
	fi
	git -C "$tree" am --abort >/dev/null 2>&1 || true
	git -C "$tree" checkout -q -f -B series base
	note "reset $tree to base"
else
	rm -rf "$tree"
	mkdir -p "$build"
	tmp=$(mktemp -d "$build/extract.XXXXXX")
	note "extracting $tarball"
	tar -C "$tmp" -xJf "$tarball"
	mv "$tmp/$package" "$tree"
	rmdir "$tmp"
	cd "$tree"
	git init -q -b series
	git config core.abbrev 12
	git config am.threeWay false
	git add -A -f .
	GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		git commit -q -m "Debian $package $have (pristine base)"
	git tag base
	note "$tree: base commit $(git rev-parse --short base)"
fi

cd "$tree"
# Commits made while editing carry the series identity, not the host's.
git config user.name "$GIT_AUTHOR_NAME"
git config user.email "$GIT_AUTHOR_EMAIL"
n=0
while read -r p; do
	case "$p" in ''|'#'*) continue ;; esac
	[ -f "$top/patches/$p" ] || die "patches/series names $p, which does not exist"
	if ! out=$(git am -q --committer-date-is-author-date "$top/patches/$p" 2>&1); then
		git am --abort >/dev/null 2>&1 || true
		printf '%s\n' "$out" >&2
		die "patch $p does not apply on $(git log -1 --format=%s HEAD) (see above)"
	fi
	n=$((n + 1))
done < "$top/patches/series"
note "applied $n patches; $tree is at $(git log -1 --format='%h %s')"
# make tree WIP=1: also the uncommitted edits that make export / make kernel
# saved, left uncommitted as they were.
if [ "${WIP:-0}" = 1 ] && [ -f "$top/patches/wip.diff" ]; then
	git apply --index "$top/patches/wip.diff" || die "patches/wip.diff does not apply"
	# Unstaged again; new files stay visible to git diff (intent to add).
	added=$(git diff --cached --name-only --diff-filter=A)
	git reset -q
	[ -z "$added" ] || printf '%s\n' "$added" | git add -f -N --pathspec-from-file=-
	note "applied patches/wip.diff, uncommitted"
elif [ -f "$top/patches/wip.diff" ]; then
	note "patches/wip.diff holds uncommitted edits of an earlier tree: 'make tree WIP=1' applies them"
fi
