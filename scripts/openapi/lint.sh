#!/usr/bin/env bash
# Lints the example API's OpenAPI document with tools nobody here wrote:
# Redocly's recommended rules (2.x, as 1.34 does not install here) and
# Spectral's OAS rules with the OWASP API Security ruleset
# (scripts/openapi/spectral.yaml; what it turns off, and why: docs/api.md).
# Both must report no error and no warning.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
./node_modules/.bin/node --conditions=@org/source scripts/openapi/document.ts "$out/openapi.json"
cp scripts/openapi/spectral.yaml "$out/.spectral.yaml"
cd "$out"
npx -y @redocly/cli@2.77.0 lint --format=stylish --max-problems=50 openapi.json
# The ruleset resolves `@stoplight/spectral-owasp-ruleset` next to itself.
npm install --silent --no-audit --no-fund --no-save \
  @stoplight/spectral-cli@6.16.3 @stoplight/spectral-owasp-ruleset@2.0.1 >/dev/null
./node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn openapi.json
