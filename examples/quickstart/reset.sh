#!/bin/sh
# Put the quickstart back as shipped, so it can be run again from the start:
#   examples/quickstart/reset.sh
# Restores the bloated memory and removes everything a run left behind: dreamd's state
# (.dreamd/), the managed insights.md, the agent lock (.consolidate-lock) and any other file
# that is not part of the example. Stop the daemon first.
set -eu
cd "$(dirname "$0")"
if [ -S .dreamd/dreamd.sock ]; then
  echo "reset.sh: .dreamd/dreamd.sock exists: stop the daemon first (Ctrl-C; or remove a stale socket)" >&2
  exit 1
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "reset.sh: needs the git checkout the example came from" >&2
  exit 1
fi
# Untracked and ignored files under this directory only (the state, insights.md, the lock).
git clean -fdqx -- .
git checkout -- .
echo "quickstart reset: $(pwd)"
