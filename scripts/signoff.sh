#!/usr/bin/env bash
# Add the committer's Signed-off-by to every commit of base..HEAD that lacks
# it, without touching the index or the work tree (commit-tree on the same
# trees, so uncommitted edits survive).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$tree"
sob="Signed-off-by: $(git config user.name) <$(git config user.email)>"
parent=$(git rev-parse base)
for c in $(git rev-list --reverse base..HEAD); do
	msg=$(git log -1 --format=%B "$c")
	grep -qxF "$sob" <<<"$msg" || msg=$(printf '%s\n\n%s\n' "$(printf '%s' "$msg" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}')" "$sob")
	parent=$(GIT_AUTHOR_NAME="$(git log -1 --format=%an "$c")" GIT_AUTHOR_EMAIL="$(git log -1 --format=%ae "$c")" \
		GIT_AUTHOR_DATE="$(git log -1 --format=%aD "$c")" GIT_COMMITTER_DATE="$(git log -1 --format=%aD "$c")" \
		git commit-tree "$c^{tree}" -p "$parent" -m "$msg")
done
git update-ref -m signoff HEAD "$parent"
note "HEAD is now $(git log -1 --format='%h %s')"
