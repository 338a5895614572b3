#!/usr/bin/env bash
# Smoke test of the entity generator (issue 16), for CI.
#
#   scripts/gen/smoke.sh [repo]     # repo: a path or URL git can clone; default this repository
#
# In a scratch clone: install with the frozen lockfile, generate an entity
# with every option, then `pnpm lint`, `pnpm check`, the whole test suite
# (the generated entity's tests included; with the caller's REDIS_URL,
# NATS_URL and REQUIRE_SERVICES, as CI sets them, and a scratch database on
# the caller's DATABASE_URL server, dropped at the end), and finally start the example
# (embedded PGlite, a free port, a scratch DATA_DIR) and call the new routes:
# register, log in, POST (201) then GET (200) an invoice. Exits non-zero on
# the first failure. The clone is a `git clone`: it sees committed work only.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
repo="${1:-$here}"
pnpm=(npx -y pnpm@10.34.9)
scratch="$(mktemp -d "${TMPDIR:-/tmp}/gen-smoke.XXXXXX")"
server_pid=""

scratch_db=""
admin_url=""

cleanup() {
  # the server runs in its own process group (setsid): end that group only
  if [ -n "$server_pid" ]; then kill -- "-$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$scratch_db" ]; then psql "$admin_url" -qc "DROP DATABASE IF EXISTS $scratch_db WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

# The generated migration must never reach the caller's database: the next
# run (or a real migration numbered the same) would find it recorded there.
# With DATABASE_URL the suite runs on a scratch database of that server.
if [ -n "${DATABASE_URL:-}" ]; then
  admin_url="$DATABASE_URL"
  scratch_db="gen_smoke_$$_$(date +%s)"
  psql "$admin_url" -qc "CREATE DATABASE $scratch_db"
  export DATABASE_URL="${DATABASE_URL%/*}/$scratch_db"
fi

step() { printf '\n== %s\n' "$*"; }

step "clone $repo"
git clone -q "$repo" "$scratch/repo"
cd "$scratch/repo"

step "install (frozen lockfile)"
"${pnpm[@]}" install --frozen-lockfile --prefer-offline

step "generate Invoice with every option"
"${pnpm[@]}" gen entity Invoice \
  --fields "title:string(1..200),notes:text?,amount:decimal(12,2,>=0),ratio:number(>=0)?,status:enum(draft|sent|paid),due:date?,paid:boolean,lines:int(>=0),ref:uuid?,tags:string[]" \
  --with-events --with-cache --soft-delete --owned
test -f examples/api/src/server/Invoices.ts

step "a second run refuses to overwrite (exit 2)"
set +e
"${pnpm[@]}" --silent gen entity Invoice --fields "title:text" >/dev/null 2>&1
code=$?
set -e
[ "$code" -eq 2 ] || { echo "expected exit 2, got $code"; exit 1; }

step "pnpm lint"
"${pnpm[@]}" lint

step "pnpm check"
"${pnpm[@]}" check

step "the whole test suite, the generated entity's tests included"
"${pnpm[@]}" test

step "start the example and call the generated routes"
port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
data="$scratch/data"
mkdir -p "$data"
# As the quick start runs it: embedded PGlite under DATA_DIR, in-memory stores.
env -u DATABASE_URL -u REDIS_URL -u NATS_URL PORT="$port" DATA_DIR="$data" HOST=127.0.0.1 \
  setsid "${pnpm[@]}" start >"$scratch/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  if curl -fsS "$base/health/live" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then cat "$scratch/server.log"; echo "the example did not start"; exit 1; fi
  sleep 1
done

email="probe-$$@example.test"
password="Ledger-Check-Passw0rd-42"
status() { curl -sS -o "$scratch/body" -w '%{http_code}' "$@"; }

code="$(status -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}")"
[ "$code" = "201" ] || { echo "register: $code $(cat "$scratch/body")"; cat "$scratch/server.log"; exit 1; }

code="$(status -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}")"
[ "$code" = "200" ] || { echo "login: $code $(cat "$scratch/body")"; exit 1; }
token="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).access_token)' "$scratch/body")"

code="$(status -X POST "$base/api/v1/invoices" -H 'content-type: application/json' -H "authorization: Bearer $token" \
  -d '{"title":"Smoke","amount":12.5,"status":"draft","due":"2026-01-15T10:00:00.000Z","paid":false,"lines":1,"tags":["a, b","c"]}')"
[ "$code" = "201" ] || { echo "POST /api/v1/invoices: $code $(cat "$scratch/body")"; exit 1; }
id="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).id)' "$scratch/body")"

code="$(status "$base/api/v1/invoices/$id" -H "authorization: Bearer $token")"
[ "$code" = "200" ] || { echo "GET /api/v1/invoices/$id: $code $(cat "$scratch/body")"; exit 1; }
node -e 'const b=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); if (JSON.stringify(b.tags)!==JSON.stringify(["a, b","c"])) { console.error("tags came back as", b.tags); process.exit(1) }' "$scratch/body"

code="$(status "$base/api/v1/invoices?sort=-amount" -H "authorization: Bearer $token")"
[ "$code" = "200" ] || { echo "GET /api/v1/invoices: $code $(cat "$scratch/body")"; exit 1; }

step "ok: the generated entity lints, type-checks, passes its tests and serves /api/v1/invoices"
