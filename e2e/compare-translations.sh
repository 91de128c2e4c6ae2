#!/usr/bin/env bash
# Shows that a change alters no translation output: records every translation the tests make
# (the mapping and invalid fixtures, examples/, the three conformance corpora alone and as
# projects, a fixed set of fuzz cases, the hostile inputs' outcomes) at a base revision and
# at the work tree, and compares the two folders byte for byte.
#
#   bash e2e/compare-translations.sh [BASE [HEAD]]
#
# BASE defaults to origin/main, else main; without HEAD the work tree is recorded, with it that
# revision (in a second worktree, so the work tree may change meanwhile).
#
# The base (and HEAD, when named) is checked out in a git worktree under target/, each built in
# a cargo target directory of its own: cargo names a crate's outputs without its path, so two
# checkouts sharing one target directory would overwrite each other's binaries and run the
# wrong one. The first run builds the dependencies once per directory; later runs only the
# crate. Needs the conformance corpora
# (COMPOSE_CONFORMANCE_DIR, default ../shared/conformance). Exits non-zero on any difference,
# and prints the differing files.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
top=$(pwd)
base=${1:-$(git rev-parse --verify -q origin/main || git rev-parse main)}
export COMPOSE_CONFORMANCE_DIR=${COMPOSE_CONFORMANCE_DIR:-$top/../shared/conformance}
[[ -d $COMPOSE_CONFORMANCE_DIR ]] || { echo "the conformance corpora are not at $COMPOSE_CONFORMANCE_DIR; set COMPOSE_CONFORMANCE_DIR" >&2; exit 2; }
COMPOSE_CONFORMANCE_DIR=$(cd "$COMPOSE_CONFORMANCE_DIR" && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$top/target}
record_root=$CARGO_TARGET_DIR/translation-record
worktree=$CARGO_TARGET_DIR/translation-record-base
head=${2:-}
head_worktree=$CARGO_TARGET_DIR/translation-record-head

# record SOURCE_DIR OUT_DIR: the recording tests of one checkout. The conformance test runs
# only its outcome tables (not the compose-go differential), the fuzz test a fixed case count.
record() {
  rm -rf "$2"
  (cd "$1" && CARGO_TARGET_DIR=$3 TRANSLATION_RECORD_DIR=$2 FUZZ_CASES=${FUZZ_CASES:-400} cargo test -q \
    --test translate --test seeds --test conformance --test fuzz --test hostile -- corpus_outcomes fixture example mutated hostile >/dev/null)
}

for tree in "$worktree" "$head_worktree"; do
  git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
done
git worktree prune
git worktree add --detach -q "$worktree" "$base"
trap 'git worktree remove --force "$worktree" 2>/dev/null || true; git worktree remove --force "$head_worktree" 2>/dev/null || true' EXIT
if [[ -n $head ]]; then
  git worktree add --detach -q "$head_worktree" "$head"
fi
echo "recording $(git rev-parse --short "$base") (base)" >&2
record "$worktree" "$record_root/base" "$CARGO_TARGET_DIR/compare-base"
if [[ -n $head ]]; then
  echo "recording $(git rev-parse --short "$head")" >&2
  record "$head_worktree" "$record_root/head" "$CARGO_TARGET_DIR/compare-head"
else
  echo "recording the work tree" >&2
  record "$top" "$record_root/head" "$CARGO_TARGET_DIR"
fi
files=$(find "$record_root/head" -type f | wc -l)
if diff -r -q "$record_root/base" "$record_root/head"; then
  echo "identical: $files recorded translations, byte for byte ($record_root/{base,head})"
else
  echo "the translations differ (diff -r $record_root/base $record_root/head)" >&2
  exit 1
fi
