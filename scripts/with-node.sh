#!/usr/bin/env bash
# Runs a command on Node.js <major> from the npm registry's `node` package (a
# plain binary that npx caches), put first on PATH: the command and everything
# it starts (npm scripts, shebang tools such as tsx and vitest, vitest's
# forks, the jetq processes tests spawn) run on that Node, whatever node the
# machine has. Used by .ci/run; by hand: bash scripts/with-node.sh 22 npm test
set -euo pipefail

usage="usage: bash scripts/with-node.sh <node major, e.g. 26> <command> [args...]"
if [ "$#" -lt 2 ] || ! [[ "$1" =~ ^[0-9]+$ ]]; then
  echo "$usage" >&2
  exit 2
fi
major="$1"
shift

# `npx -c` would hand npm_config_* variables to the command and break any npx
# it runs, so only the binary's path comes from npx.
node_path="$(npx --yes --package="node@$major" -- node -p process.execPath)"
if ! [ -x "$node_path" ]; then
  echo "with-node: npx gave no Node $major binary (got: $node_path)" >&2
  exit 1
fi
PATH="$(dirname "$node_path"):$PATH"
export PATH
actual="$(node --version)"
case "$actual" in
  "v$major".*) ;;
  *)
    echo "with-node: asked for Node $major, PATH has node $actual" >&2
    exit 1
    ;;
esac
echo "with-node: node $actual ($node_path)" >&2
# test/server/runtime.test.ts checks the suite really ran on it.
export JETQ_WITH_NODE_MAJOR="$major"
exec "$@"
