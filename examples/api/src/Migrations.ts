/**
 * The example API's schema, as ordered migrations (run at start).
 * Text columns that can be sorted on use `COLLATE "C"`: code point order, the
 * same order the in-memory repository uses (docs/adr/0004).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

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
  })
}
