/**
 * The peer of the load benchmark: the Fastify 5 route a team would write
 * instead of using the kit, for the same authenticated item read
 * (`GET /api/v1/items/:id`). `@fastify/jwt` verifies the example API's ES256
 * access tokens (issuer, audience, algorithm), `@fastify/rate-limit` counts
 * in memory and never refuses, `@fastify/helmet` sets the security headers,
 * an `lru-cache` sits in front of Postgres (`pg` Pool), and the token's
 * roles map to permissions as `examples/api/src/domain/Policy.ts` does.
 * Answers the example API's JSON, `ETag` and `Cache-Control: no-store`;
 * 404 for a missing or deleted item, 401 for a bad token, 403 without
 * `items:read`.
 *
 * Run by `bench/load.bench.ts` as a child process; by hand:
 * `PORT=3001 JWT_PUBLIC_KEY="$(cat pub.pem)" ./node_modules/.bin/node bench/load/peer-fastify.ts`
 * (`DATABASE_URL`; `JWT_VERIFY_CACHE=1` turns on fast-jwt's verified-token
 * cache: the "tuned" variant).
 */
import helmet from "@fastify/helmet"
import jwt from "@fastify/jwt"
import rateLimit from "@fastify/rate-limit"
import Fastify from "fastify"
import { LRUCache } from "lru-cache"
import pg from "pg"

const publicKey = process.env.JWT_PUBLIC_KEY
if (publicKey === undefined || publicKey === "") throw new Error("JWT_PUBLIC_KEY is required")
const tuned = process.env.JWT_VERIFY_CACHE === "1"

// The example's policy: `admin` inherits `user`.
const userPermissions = ["items:read", "items:create", "items:update:own", "items:delete:own"]
const rolePermissions: Record<string, ReadonlySet<string>> = {
  user: new Set(userPermissions),
  admin: new Set([
    ...userPermissions,
    "items:update:any",
    "items:delete:any",
    "users:read",
    "users:manage",
    "audit:read"
  ])
}
const can = (roles: unknown, permission: string) =>
  Array.isArray(roles) && roles.some((role) => rolePermissions[String(role)]?.has(permission) === true)

interface Item {
  readonly id: string
  readonly name: string
  readonly description: string | null
  readonly price: number
  readonly quantity: number
  readonly category: string | null
  readonly ownerId: string
  readonly createdAt: string
  readonly updatedAt: string
  readonly version: number
}

interface ItemRow {
  id: string
  name: string
  description: string | null
  price: string
  quantity: number
  category: string | null
  owner_id: string
  created_at: Date
  updated_at: Date
  version: number
}

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/test",
  max: 10
})
// As long as the example's in-process copies (30 s); the example also drops
// them on writes, which a read benchmark never makes.
const cache = new LRUCache<string, Item>({ max: 10_000, ttl: 30_000 })
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const findItem = async (id: string): Promise<Item | undefined> => {
  const hit = cache.get(id)
  if (hit !== undefined) return hit
  const { rows } = await pool.query<ItemRow>(
    "SELECT id, name, description, price, quantity, category, owner_id, created_at, updated_at, version FROM items WHERE id = $1 AND deleted_at IS NULL",
    [id]
  )
  const row = rows[0]
  if (row === undefined) return undefined
  const item: Item = {
    id: row.id,
    name: row.name,
    description: row.description,
    // numeric(12, 2) arrives as a string; the example answers a JSON number.
    price: Number(row.price),
    quantity: row.quantity,
    category: row.category,
    ownerId: row.owner_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version
  }
  cache.set(id, item)
  return item
}

// The example logs at `warn` in the benchmark: so does the peer.
const app = Fastify({ logger: { level: "warn" } })
await app.register(helmet)
await app.register(rateLimit, { max: 1_000_000, timeWindow: 1000 })
await app.register(jwt, {
  secret: { public: publicKey },
  verify: {
    algorithms: ["ES256"],
    allowedIss: "org-example",
    allowedAud: "org-example-api",
    ...(tuned ? { cache: true } : {})
  }
})

app.get("/health", async () => ({ status: "pass" }))

app.get<{ Params: { id: string } }>("/api/v1/items/:id", async (request, reply) => {
  let claims: { roles?: unknown }
  try {
    claims = await request.jwtVerify<{ roles?: unknown }>()
  } catch {
    return reply.code(401).header("www-authenticate", 'Bearer realm="api"').send({ error: "Unauthorized" })
  }
  if (!can(claims.roles, "items:read")) return reply.code(403).send({ error: "Forbidden" })
  const item = uuid.test(request.params.id) ? await findItem(request.params.id) : undefined
  reply.header("cache-control", "no-store")
  if (item === undefined) return reply.code(404).send({ error: "Not Found" })
  const etag = `"${item.version}"`
  reply.header("etag", etag)
  if (request.headers["if-none-match"] === etag) return reply.code(304).send()
  return item
})

const close = async () => {
  await app.close()
  await pool.end()
  process.exit(0)
}
process.once("SIGTERM", close)
process.once("SIGINT", close)

await app.listen({ host: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 3001) })
