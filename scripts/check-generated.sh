#!/usr/bin/env bash
# Fails when gen/ or packages/client/src/gen/ differs from what
# `npm run generate` makes of proto/.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run generate --silent
dirs=(gen packages/client/src/gen)
if ! git diff --quiet -- "${dirs[@]}" || [ -n "$(git status --porcelain --untracked-files=all -- "${dirs[@]}")" ]; then
  echo "generated code is stale: run 'npm run generate' and commit the result" >&2
  git status --short -- "${dirs[@]}" >&2
  exit 1
fi
echo "gen/ and packages/client/src/gen/ are up to date"
