/**
 * The example API's schema, as ordered migrations (run at start).
 * Text columns that can be sorted on use `COLLATE "C"`: code point order, the
 * same order the in-memory repository uses (docs/adr/0004).
 *
 * @since 0.1.0
 */
import { AccountsServer } from "@org/accounts"
import { AuditLogSql, IdempotencyStoreSql, RevocationStoreSql } from "@org/core"
import { OutboxSql } from "@org/sql"
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
// @org/cli:imports (`pnpm gen entity` adds its imports below this line, one chunk each)

/**
 * All migrations, keyed `<id>_<name>`.
 *
 * @since 0.1.0
 * @category migrations
 */
export const migrations = {
  "1_create_items": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql`
      CREATE TABLE items (
        id uuid PRIMARY KEY,
        name text COLLATE "C" NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
        description text CHECK (char_length(description) <= 2000),
        price numeric(12, 2) NOT NULL CHECK (price >= 0),
        quantity integer NOT NULL CHECK (quantity >= 0),
        category text COLLATE "C" CHECK (char_length(category) <= 50),
        owner_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        deleted_at timestamptz
      )`
    yield* sql`CREATE INDEX items_live_created_at ON items (created_at, id) WHERE deleted_at IS NULL`
    yield* sql`CREATE INDEX items_owner ON items (owner_id) WHERE deleted_at IS NULL`
  }),
  // Every allowed sort has a partial index ending in id (the tie-breaker), so
  // a sorted page is an index scan that stops at LIMIT; the same indexes
  // serve equality and range filters on their first column.
  "2_items_list_indexes": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    for (const column of ["name", "price", "quantity", "category", "updated_at"]) {
      yield* sql`CREATE INDEX ${sql(`items_live_${column}`)} ON items (${sql(column)}, id) WHERE deleted_at IS NULL`
    }
    yield* sql`CREATE INDEX items_live_id ON items (id) WHERE deleted_at IS NULL`
    yield* sql`CREATE INDEX items_live_category_price ON items (category, price, id) WHERE deleted_at IS NULL`
  }),
  // Accounts, refresh-token families and the durable revocation list.
  "3_users": AccountsServer.migrations.users,
  "4_auth_refresh_tokens": AccountsServer.migrations.refreshTokens,
  "5_auth_revocations": RevocationStoreSql.migration,
  // Idempotency-Key records (used unless REDIS_URL is set).
  "6_http_idempotency": IdempotencyStoreSql.migration,
  // Events: the transactional outbox, the consumers' inbox, the audit log.
  "7_event_outbox": OutboxSql.migration,
  "8_event_inbox": OutboxSql.inboxMigration,
  "9_audit_log": AuditLogSql.migration
  // @org/cli:migrations (`pnpm gen entity` adds `EntityTable.migration`s above this line)
}
