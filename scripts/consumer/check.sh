#!/usr/bin/env bash
# Consumer check: the kit as a team outside the workspace gets it.
#  1. packs every package under packages/ (`pnpm pack` turns `workspace:*`
#     into versions; run `pnpm build` first),
#  2. writes a fresh npm project in a temporary directory: the consumer's
#     sources from scripts/consumer (src/, test/, tsconfig.json,
#     vitest.config.ts) and a package.json from manifest.ts (the tarballs,
#     the effect family at the kit's peer ranges, the workspace's
#     TypeScript and vitest),
#  3. installs it with npm from the default registry (cache inside the run),
#     fails on any ERESOLVE, and requires `npm ls --all` to report a valid
#     tree with one copy of `effect`,
#  4. type-checks it (strict, exactOptionalPropertyTypes, skipLibCheck:
#     false: the published .d.ts files are checked too),
#  5. runs its vitest test (the app with the memory repository swapped in),
#  6. starts src/main.ts with the real Node 24 binary on a free loopback
#     port (tasks in SQL: embedded PGlite, or Postgres if DATABASE_URL is
#     set), waits for the ready line and GET /health/ready 200, registers,
#     logs in, creates and reads a task, sends SIGTERM and requires exit 0.
# Every wait is bounded; the server is killed and the directory removed on
# exit (KEEP_CONSUMER=1 keeps the directory for a look).
set -Eeuo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/scripts/consumer"
PNPM_VERSION=10.34.9
registry=https://registry.npmjs.org/
started=$(date +%s)
# The real binary: the node_modules/.bin/node shim does not forward signals.
node_bin="$repo/node_modules/node/bin/node"

say() { printf 'consumer: %s\n' "$*"; }
step() {
  step_started=$(date +%s)
  printf '\nconsumer: -- %s\n' "$*"
}
took() { say "ok ($(($(date +%s) - step_started)) s)"; }
fail() {
  say "FAIL: $*"
  exit 1
}

[ -x "$node_bin" ] || fail "$node_bin is missing: run npx -y pnpm@${PNPM_VERSION} install first"
# npm (the system's npm-cli.js, `#!/usr/bin/env node`), npx, tsc and vitest all run on Node 24.
PATH="$(dirname "$node_bin"):$PATH"
export PATH
command -v npm >/dev/null || fail "npm is not on PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/consumer-check.XXXXXX")
project="$work/project"
server=""
server_log="$work/server.log"
cleanup() {
  local status=$?
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$server_log" ]; then
    echo "--- server log (last 40 lines)"
    tail -n 40 "$server_log"
  fi
  if [ "${KEEP_CONSUMER:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# npm: the default registry, a cache that lives and dies with this run, no noise.
export npm_config_registry="$registry"
export npm_config_cache="$work/npm-cache"
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
export NO_COLOR=1

step "pack every package under packages/"
for dir in "$repo"/packages/*/; do
  [ -f "$dir/dist/index.js" ] && [ -f "$dir/dist/index.d.ts" ] ||
    fail "${dir#"$repo"/} has no build: run npx -y pnpm@${PNPM_VERSION} build first"
done
mkdir -p "$work/tarballs" "$project"
(cd "$repo" && timeout 120 npx -y "pnpm@${PNPM_VERSION}" -r --filter './packages/*' pack \
  --pack-destination "$work/tarballs" >"$work/pack.log" 2>&1) || {
  cat "$work/pack.log"
  fail "pnpm pack failed"
}
expected=$(find "$repo/packages" -mindepth 2 -maxdepth 2 -name package.json | wc -l)
packed=$(find "$work/tarballs" -name '*.tgz' | wc -l)
[ "$packed" -eq "$expected" ] || fail "packed $packed tarballs for $expected packages"
say "$(cd "$work/tarballs" && echo *.tgz)"
# What is published: build output and sources, never the incremental build state.
for tarball in "$work"/tarballs/*.tgz; do
  if tar tzf "$tarball" | grep -q 'tsbuildinfo'; then fail "$(basename "$tarball") publishes a .tsbuildinfo"; fi
done
took

step "a fresh npm project outside the workspace: $project"
cp -R "$here/src" "$here/test" "$here/tsconfig.json" "$here/vitest.config.ts" "$project/"
"$node_bin" "$here/manifest.ts" "$work/tarballs" "$project"
[ "$(cd "$project" && npm config get registry)" = "$registry" ] || fail "npm does not use $registry"
took

step "npm install (npm $(npm --version) on Node $("$node_bin" --version))"
(cd "$project" && timeout 240 npm install --no-audit --no-fund --loglevel=warn >"$work/install.log" 2>&1) || {
  cat "$work/install.log"
  fail "npm install failed"
}
if grep -q ERESOLVE "$work/install.log"; then
  cat "$work/install.log"
  fail "npm install reported ERESOLVE"
fi
took

step "npm ls: a valid tree, one effect"
# What npm ls marks as wrong. UNMET OPTIONAL DEPENDENCY (another platform's binary, an unused peer) is fine.
ls_problems=' invalid|UNMET DEPENDENCY|ERESOLVE|extraneous|missing:'
(cd "$project" && timeout 60 npm ls --all >"$work/ls.log" 2>&1) || {
  grep -E "$ls_problems|npm error" "$work/ls.log" || tail -n 40 "$work/ls.log"
  fail "npm ls reports an invalid tree"
}
if grep -nE "$ls_problems" "$work/ls.log"; then
  fail "npm ls reports problems"
fi
copies=$(cd "$project" && find . -path '*/node_modules/effect/package.json' | wc -l)
[ "$copies" -eq 1 ] || fail "$copies copies of effect are installed (expected one)"
(cd "$project" && timeout 60 npm ls --all --json >"$work/ls.json" 2>/dev/null)
# The versions npm chose, one per package (two versions of one family package is a failure too).
"$node_bin" -e '
  const tree = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))
  const found = new Map(process.argv.slice(2).map((name) => [name, new Set()]))
  const walk = (deps) => {
    for (const [name, dep] of Object.entries(deps ?? {})) {
      if (found.has(name) && dep.version) found.get(name).add(dep.version)
      walk(dep.dependencies)
    }
  }
  walk(tree.dependencies)
  let ok = true
  for (const [name, versions] of found) {
    console.log(`consumer:   ${name} ${[...versions].join(", ") || "not installed"}`)
    if (versions.size !== 1) ok = false
  }
  process.exit(ok ? 0 : 1)
' "$work/ls.json" effect @effect/platform-node @effect/platform-node-shared @effect/sql-pg @effect/vitest \
  typescript vitest || fail "not exactly one version of each of these"
took

step "type check (strict, exactOptionalPropertyTypes, skipLibCheck: false)"
(cd "$project" && timeout 180 "$node_bin" node_modules/typescript/bin/tsc -p tsconfig.json) ||
  fail "the consumer does not type-check against the published packages"
took

step "internal modules are not importable"
for pkg in core auth; do
  (cd "$project" && "$node_bin" --input-type=module -e "
    import { readdirSync } from 'node:fs'
    const internal = readdirSync('node_modules/@org/$pkg/dist/internal').find((f) => f.endsWith('.js'))
    if (internal === undefined) { console.error('no internal module in @org/$pkg'); process.exit(2) }
    try { await import('@org/$pkg/internal/' + internal.slice(0, -3)); console.error('@org/$pkg/internal is importable'); process.exit(1) }
    catch (e) { if (e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e }
  ") || fail "@org/$pkg exposes its internal modules"
done
took

step "the consumer's own vitest (memory repository instead of SQL)"
(cd "$project" && timeout 180 "$node_bin" node_modules/vitest/vitest.mjs run) || fail "the consumer's tests failed"
took

step "the consumer service as a process"
port=$("$node_bin" -e 'const s=require("node:net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
base="http://127.0.0.1:${port}"
(cd "$project" && exec env HOST=127.0.0.1 PORT="$port" DATA_DIR="$work/data" APP_ENV=development LOG_FORMAT=json \
  SHUTDOWN_TIMEOUT="5 seconds" "$node_bin" src/main.ts >"$server_log" 2>&1) &
server=$!
c() { curl -sS --max-time 10 "$@"; }
json() { "$node_bin" -e "const v=JSON.parse(process.argv[1]); $1" "${@:2}"; }
ready=""
for _ in $(seq 1 120); do
  kill -0 "$server" 2>/dev/null || fail "the server exited before it was ready"
  if [ "$(c -o /dev/null -w '%{http_code}' "$base/health/ready" 2>/dev/null || true)" = "200" ] &&
    grep -qF "ready on ${base}" "$server_log"; then
    ready=yes
    break
  fi
  sleep 0.5
done
[ -n "$ready" ] || fail "no ready line and GET /health/ready 200 within 60 s"
say "ready on $base after $(($(date +%s) - step_started)) s"

# Unique per run, so a shared Postgres (DATABASE_URL) sees a new account each time.
email="consumer-$(date +%s)-$$@example.test"
password="Lantern-Harbor-Passw0rd-31"
status=$(c -o "$work/register" -w '%{http_code}' -X POST "$base/api/v1/auth/register" \
  -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}")
[ "$status" = "201" ] || fail "register answered $status: $(cat "$work/register")"
tokens=$(c -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}")
token=$(json 'if (typeof v.access_token !== "string") process.exit(1); console.log(v.access_token)' "$tokens") ||
  fail "login returned no access token: $tokens"
status=$(c -o "$work/created" -D "$work/created-headers" -w '%{http_code}' -X POST "$base/api/v1/tasks" \
  -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"title":"Ship the consumer check","done":false}')
[ "$status" = "201" ] || fail "create answered $status: $(cat "$work/created")"
id=$(json 'console.log(v.id)' "$(cat "$work/created")")
grep -qi "^location: /api/v1/tasks/$id" "$work/created-headers" || fail "create sent no Location for $id"
got=$(c -H "authorization: Bearer $token" "$base/api/v1/tasks/$id")
json 'if (v.title !== "Ship the consumer check" || v.done !== false || v.version !== 1) process.exit(1)' "$got" ||
  fail "read back a different task: $got"
say "registered, logged in, created and read task $id"

kill -TERM "$server"
for _ in $(seq 1 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done
kill -0 "$server" 2>/dev/null && fail "still running 30 s after SIGTERM"
code=0
wait "$server" || code=$?
server=""
[ "$code" -eq 0 ] || fail "exit code $code after SIGTERM (expected 0)"
grep -qF "Consumer stopped" "$server_log" || fail "no 'Consumer stopped' line after SIGTERM"
say "SIGTERM -> exit 0"
took

step "a production install: @org/sql on a real Postgres, without PGlite"
lean="$work/lean"
mkdir -p "$lean"
core_tgz=$(cd "$work/tarballs" && ls org-core-*.tgz)
sql_tgz=$(cd "$work/tarballs" && ls org-sql-*.tgz)
effect_range=$(cd "$project" && "$node_bin" -e 'console.log(require("./package.json").dependencies.effect)')
cat >"$lean/package.json" <<JSON
{
  "name": "lean",
  "version": "0.0.0",
  "private": true,
  "type": "module",
  "dependencies": {
    "@org/core": "file:$work/tarballs/$core_tgz",
    "@org/sql": "file:$work/tarballs/$sql_tgz",
    "@effect/platform-node": "$effect_range",
    "@effect/sql-pg": "$effect_range",
    "effect": "$effect_range"
  }
}
JSON
(cd "$lean" && timeout 240 npm install --no-audit --no-fund --loglevel=warn >"$work/lean-install.log" 2>&1) || {
  cat "$work/lean-install.log"
  fail "npm install of the production project failed"
}
[ ! -e "$lean/node_modules/@electric-sql/pglite" ] || fail "PGlite was installed for a service that does not use it"
(cd "$lean" && env -u DATABASE_URL "$node_bin" --input-type=module -e "
  const { Effect, Layer } = await import('effect')
  const { PgDatabase } = await import('@org/sql')
  const exit = await Effect.runPromiseExit(Layer.build(PgDatabase.layerConfig).pipe(Effect.scoped))
  const error = exit._tag === 'Failure' ? exit.cause.reasons.find((r) => r._tag === 'Fail')?.error : undefined
  if (error?._tag !== 'DatabaseConfigError' || error.variable !== 'DATABASE_URL' || !/not installed/.test(error.message)) {
    console.error('expected a DatabaseConfigError saying the embedded database is not installed, got', exit)
    process.exit(1)
  }
  console.log('consumer: without DATABASE_URL: ' + error.message)
") || fail "@org/sql without PGlite does not load, or does not say what is missing"
say "node_modules without PGlite: $(du -sh "$lean/node_modules" | cut -f1) (the full consumer: $(du -sh "$project/node_modules" | cut -f1))"
took

say "passed in $(($(date +%s) - started)) s"
