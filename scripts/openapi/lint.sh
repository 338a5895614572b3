#!/usr/bin/env bash
# Lints the example API's OpenAPI document with Redocly's recommended rules
# (a tool nobody here wrote; 2.x, as 1.34 does not install here). Spectral's
# OWASP ruleset is not run yet: see docs/api.md ("OpenAPI lint").
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
./node_modules/.bin/node --conditions=@org/source scripts/openapi/document.ts "$out/openapi.json"
cd "$out"
npx -y @redocly/cli@2.77.0 lint --format=stylish --max-problems=50 openapi.json
