import { assert, describe, it } from "@effect/vitest"
import { Decimal, Entity, EntityTable } from "@org/core"
import { Schema, SchemaTransformation } from "effect"

const EverythingId = Entity.Uuid.pipe(Schema.brand("EverythingId"))

// One field of each kind the derivation knows.
const Everything = Entity.make("Everything", {
  table: "everything",
  id: EverythingId,
  fields: {
    ref: Entity.Uuid,
    anyCaseUuid: Schema.String.check(Schema.isUUID()),
    title: Entity.Text.check(Schema.isMinLength(3), Schema.isMaxLength(10)),
    nick: Entity.Text.check(Schema.isBetweenCodePoints(2, 5)),
    slug: Schema.TemplateLiteral(["s-", Schema.Number]),
    body: Schema.NullOr(Entity.Text.check(Schema.isMaxLength(5000))),
    amount: Decimal.make({ precision: 10, scale: 4 }).check(
      Schema.isGreaterThan(-1),
      Schema.isLessThanOrEqualTo(100)
    ),
    small: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10 })),
    int32: Schema.Number.check(Schema.isInt32()),
    count: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    wide: Schema.Int.check(Schema.isLessThan(3_000_000_000)),
    ratio: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true })),
    flag: Schema.Boolean,
    always: Schema.Literal(true),
    at: Schema.DateTimeUtcFromString,
    maybeAt: Schema.NullOr(Schema.DateTimeUtcFromString),
    status: Schema.Literals(["new", "it's", "back\\slash"]),
    maybeStatus: Schema.NullOr(Schema.Literals(["a", "b"])),
    level: Schema.Literals([1, 2, 3]),
    huge: Schema.Literals([1, 3_000_000_000]),
    half: Schema.Literals([0.5, 1.5]),
    color: Schema.Enum({ Red: "red", Blue: "blue" })
  },
  sortable: ["title", "amount", "body", "createdAt", "id"],
  filterable: ["ref", "title", "flag", "body", "updatedAt", "version", "id"],
  unique: ["nick"]
})

const expectedTable = `CREATE TABLE "everything" (
  "id" uuid PRIMARY KEY,
  "ref" uuid NOT NULL,
  "any_case_uuid" text COLLATE "C" NOT NULL,
  "title" text COLLATE "C" NOT NULL CHECK (char_length("title") BETWEEN 2 AND 10),
  "nick" text COLLATE "C" NOT NULL CHECK (char_length("nick") BETWEEN 2 AND 5),
  "slug" text COLLATE "C" NOT NULL,
  "body" text COLLATE "C" CHECK (char_length("body") <= 5000),
  "amount" numeric(10, 4) NOT NULL CHECK ("amount" > -1 AND "amount" <= 100),
  "small" integer NOT NULL CHECK ("small" BETWEEN 1 AND 10),
  "int32" integer NOT NULL,
  "count" bigint NOT NULL CHECK ("count" >= 0),
  "wide" bigint NOT NULL CHECK ("wide" < 3000000000),
  "ratio" double precision NOT NULL CHECK ("ratio" >= 0 AND "ratio" < 1),
  "flag" boolean NOT NULL,
  "always" boolean NOT NULL CHECK ("always" IN (true)),
  "at" timestamptz NOT NULL,
  "maybe_at" timestamptz,
  "status" text COLLATE "C" NOT NULL CHECK ("status" IN ('new', 'it''s', E'back\\\\slash')),
  "maybe_status" text COLLATE "C" CHECK ("maybe_status" IN ('a', 'b')),
  "level" integer NOT NULL CHECK ("level" IN (1, 2, 3)),
  "huge" bigint NOT NULL CHECK ("huge" IN (1, 3000000000)),
  "half" double precision NOT NULL CHECK ("half" IN (0.5, 1.5)),
  "color" text COLLATE "C" NOT NULL CHECK ("color" IN ('red', 'blue')),
  "created_at" timestamptz NOT NULL,
  "updated_at" timestamptz NOT NULL,
  "version" integer NOT NULL CHECK ("version" >= 1),
  "deleted_at" timestamptz
)`

const live = (name: string, columns: string) =>
  `CREATE INDEX "everything_live_${name}" ON "everything" (${columns}) WHERE "deleted_at" IS NULL`

const expectedIndexes = [
  `CREATE UNIQUE INDEX "everything_unique_nick" ON "everything" ("nick") WHERE "deleted_at" IS NULL`,
  live("title", `"title", "id"`),
  live("amount", `"amount", "id"`),
  // body (up to 15,000 UTF-8 bytes) gets none: the index would refuse long values.
  live("created_at", `"created_at", "id"`),
  live("id", `"id"`),
  live("ref", `"ref"`),
  live("flag", `"flag"`),
  live("updated_at", `"updated_at"`),
  live("version", `"version"`)
]

const one = (schema: Entity.Field, name = "Probe") =>
  Entity.make(name, { table: "probes", id: EverythingId, fields: { value: schema } })

const column = (schema: Entity.Field) => EntityTable.columns(one(schema))[1]!

const throwsNaming = (thunk: () => unknown, ...parts: ReadonlyArray<string>) => {
  let message: string | undefined
  try {
    thunk()
  } catch (error) {
    message = error instanceof Error ? error.message : String(error)
  }
  assert.isDefined(message, "it must throw")
  for (const part of parts) assert.include(message, part)
}

describe("EntityTable", () => {
  it("derives one column per field, typed, checked and nullable from its schema", () => {
    assert.strictEqual(EntityTable.createTable(Everything), expectedTable)
  })

  it("derives the unique, sort and filter indexes, all partial on deleted_at IS NULL", () => {
    assert.deepStrictEqual(EntityTable.createIndexes(Everything), expectedIndexes)
    assert.deepStrictEqual(EntityTable.statements(Everything), [expectedTable, ...expectedIndexes])
  })

  it("reports the column model: field, name, nullability, indexability", () => {
    const byField = new Map(EntityTable.columns(Everything).map((c) => [c.field, c]))
    assert.deepStrictEqual(byField.get("maybeAt"), {
      field: "maybeAt",
      name: "maybe_at",
      type: "timestamptz",
      collation: undefined,
      nullable: true,
      primaryKey: false,
      checks: [],
      indexable: true
    })
    assert.isFalse(byField.get("body")!.indexable)
    assert.isTrue(byField.get("title")!.indexable)
    assert.isTrue(byField.get("id")!.primaryKey)
    assert.strictEqual(byField.get("deletedAt")!.name, EntityTable.deletedAtColumn)
  })

  it("text lengths: UTF-16 units bound code points by [ceil(n / 2), n]; code point checks are exact", () => {
    const checks = (schema: Entity.Field) => column(schema).checks
    // One emoji is 2 units and 1 code point: isMinLength(2) must accept it.
    assert.deepStrictEqual(checks(Schema.String.check(Schema.isMinLength(2))), [`char_length("value") >= 1`])
    assert.deepStrictEqual(checks(Schema.String.check(Schema.isMinLength(1))), [`char_length("value") >= 1`])
    assert.deepStrictEqual(checks(Schema.String.check(Schema.isBetweenLength(5, 9))), [
      `char_length("value") BETWEEN 3 AND 9`
    ])
    assert.deepStrictEqual(checks(Schema.String.check(Schema.isMaxLength(9), Schema.isMaxCodePoints(4))), [
      `char_length("value") <= 4`
    ])
    assert.deepStrictEqual(checks(Schema.String.check(Schema.isMinCodePoints(3))), [
      `char_length("value") >= 3`
    ])
    assert.deepStrictEqual(checks(Schema.String), [])
    assert.deepStrictEqual(checks(Schema.String.check(Schema.isMinLength(0))), [])
  })

  it("integers: integer within Postgres integer, else bigint; bounds the type enforces are left out", () => {
    const cases: ReadonlyArray<readonly [Entity.Field, string, ReadonlyArray<string>]> = [
      [Schema.Int, "bigint", []],
      [Schema.Number.check(Schema.isInt32()), "integer", []],
      [Schema.Number.check(Schema.isUint32()), "bigint", [`"value" BETWEEN 0 AND 4294967295`]],
      [
        Schema.Int.check(Schema.isBetween({ minimum: -2_147_483_648, maximum: 2_147_483_647 })),
        "integer",
        []
      ],
      [
        Schema.Int.check(Schema.isBetween({ minimum: -2_147_483_649, maximum: 0, exclusiveMinimum: true })),
        "integer",
        [`"value" <= 0`]
      ],
      [
        Schema.Int.check(Schema.isGreaterThanOrEqualTo(-2_147_483_649), Schema.isLessThan(0)),
        "bigint",
        [`"value" >= -2147483649 AND "value" < 0`]
      ],
      [
        Schema.Int.check(Schema.isGreaterThan(0.5), Schema.isLessThan(10.5)),
        "integer",
        [`"value" > 0.5 AND "value" < 10.5`]
      ],
      [
        Schema.Int.check(Schema.isGreaterThanOrEqualTo(1), Schema.isGreaterThan(1)),
        "bigint",
        [`"value" > 1`]
      ],
      [
        Schema.Natural.check(Schema.isLessThanOrEqualTo(100), Schema.isLessThan(100)),
        "integer",
        [`"value" >= 0 AND "value" < 100`]
      ]
    ]
    for (const [schema, type, checks] of cases) {
      const c = column(schema)
      assert.strictEqual(c.type, type, String(schema.ast))
      assert.deepStrictEqual(c.checks, checks, String(schema.ast))
    }
  })

  it("decimals: numeric(precision, scale) with their bounds; -0 prints as 0", () => {
    const c = column(Decimal.make({ precision: 5, scale: 0 }).check(Schema.isGreaterThanOrEqualTo(-0)))
    assert.strictEqual(c.type, "numeric(5, 0)")
    assert.deepStrictEqual(c.checks, [`"value" >= 0`])
    assert.strictEqual(
      column(Schema.Finite.check(Decimal.isDecimal({ precision: 3, scale: 3 }))).type,
      "numeric(3, 3)"
    )
    assert.deepStrictEqual(column(Schema.Finite.check(Schema.isLessThan(1e21))).checks, [`"value" < 1e+21`])
  })

  it("fails loudly, naming the entity and the field, for a schema with no exact column", () => {
    const unmappable: ReadonlyArray<readonly [Entity.Field, string]> = [
      [Schema.Number, "NaN"],
      [Schema.NumberFromString, "NaN"],
      [Schema.FiniteFromString, "encoded"],
      [Schema.DateTimeUtcFromMillis, "encoded"],
      [Schema.DateTimeUtc, "encoded"],
      [Schema.Date, "no column type"],
      [Schema.BigInt, "no column type"],
      [Schema.Union([Schema.String, Schema.Finite]), "union"],
      [Schema.Literals(["a", 1]), "literals"],
      [Schema.UndefinedOr(Schema.String), "NullOr"],
      [Schema.Null, "always null"],
      [Schema.Struct({ a: Schema.String }), "no column type"],
      [Schema.Array(Schema.Finite), "no column type"],
      [Schema.Array(Schema.NullOr(Schema.String)), "no column type"],
      [Schema.Array(Schema.Literals(["a", "b"])), "no column type"],
      [Schema.Array(Schema.Array(Schema.String)), "no column type"],
      [Schema.Tuple([Schema.String]), "no column type"],
      [Schema.TupleWithRest(Schema.Tuple([Schema.String]), [Schema.String]), "no column type"],
      [Schema.Array(Schema.FiniteFromString), "ReadonlyArray<"],
      // Strings in code, numbers on the wire: the column would be bound numbers.
      [
        Schema.Array(
          Schema.Finite.pipe(
            Schema.decodeTo(Schema.String, SchemaTransformation.transform({ decode: String, encode: Number }))
          )
        ),
        "encoded"
      ],
      [Schema.Literal("a\u0000b"), "NUL"]
    ]
    for (const [schema, reason] of unmappable) {
      throwsNaming(() => EntityTable.createTable(one(schema, "Odd")), "Odd.value", reason)
      throwsNaming(() => EntityTable.migration(one(schema, "Odd")), "Odd.value")
    }
  })

  it("arrays of text: text[] in code point order, no NULL element, the array's own length as cardinality", () => {
    const Tagged = Entity.make("Tagged", {
      table: "tagged",
      id: EverythingId,
      fields: {
        tags: Schema.Array(Entity.Text),
        // Element lengths stay in the schema: no CHECK visits each element.
        labels: Schema.Array(Entity.Text.check(Schema.isMaxLength(20))).check(Schema.isBetweenLength(1, 5)),
        few: Schema.NullOr(Schema.Array(Schema.String).check(Schema.isMaxLength(3))),
        some: Schema.Array(Schema.String).check(Schema.isMinLength(2))
      },
      sortable: ["createdAt"],
      filterable: ["version"]
    })
    assert.strictEqual(
      EntityTable.createTable(Tagged),
      `CREATE TABLE "tagged" (
  "id" uuid PRIMARY KEY,
  "tags" text[] COLLATE "C" NOT NULL CHECK (array_position("tags", NULL) IS NULL),
  "labels" text[] COLLATE "C" NOT NULL CHECK (array_position("labels", NULL) IS NULL) CHECK (cardinality("labels") BETWEEN 1 AND 5),
  "few" text[] COLLATE "C" CHECK (array_position("few", NULL) IS NULL) CHECK (cardinality("few") <= 3),
  "some" text[] COLLATE "C" NOT NULL CHECK (array_position("some", NULL) IS NULL) CHECK (cardinality("some") >= 2),
  "created_at" timestamptz NOT NULL,
  "updated_at" timestamptz NOT NULL,
  "version" integer NOT NULL CHECK ("version" >= 1),
  "deleted_at" timestamptz
)`
    )
    const tags = EntityTable.columns(Tagged)[1]!
    assert.deepInclude(tags, { type: "text[]", collation: "C", nullable: false, indexable: false })
    // Arrays get no index, even unique or sortable ones on a definition Entity.make did not check.
    assert.deepStrictEqual(
      EntityTable.indexes(Tagged).map((index) => index.name),
      ["tagged_live_created_at", "tagged_live_version"]
    )
    for (const role of ["sortable", "filterable", "unique"] as const) {
      throwsNaming(() => EntityTable.indexes({ ...Tagged, [role]: ["tags"] }), "Tagged.tags", role, "array")
    }
  })

  it("the id must be a lowercase UUID: the table keeps it as uuid", () => {
    for (const id of [Schema.String, Schema.String.check(Schema.isUUID()), Entity.Text]) {
      const definition = Entity.make("Thing", { table: "things", id, fields: {} })
      throwsNaming(() => EntityTable.createTable(definition), "Thing.id", "lowercase UUID")
    }
  })

  it("quotes identifiers as the Postgres client does (quotes doubled, a dot splits the schema)", () => {
    const Odd = Entity.make("Odd", {
      table: 'app.we"ird',
      id: EverythingId,
      fields: { label: Entity.Text.check(Schema.isMaxLength(9)), other: Schema.Boolean },
      columns: { label: `la"bel'); DROP TABLE x; --`, other: "Other Col" },
      sortable: ["label"],
      unique: ["other"]
    })
    const [table, ...indexes] = EntityTable.statements(Odd)
    assert.isTrue(table!.startsWith(`CREATE TABLE "app"."we""ird" (\n`), table)
    assert.include(
      table,
      `  "la""bel'); DROP TABLE x; --" text COLLATE "C" NOT NULL CHECK (char_length("la""bel'); DROP TABLE x; --") <= 9),\n`
    )
    assert.include(table, `  "Other Col" boolean NOT NULL,\n`)
    assert.deepStrictEqual(indexes.slice(0, 2), [
      `CREATE UNIQUE INDEX "we""ird_unique_Other Col" ON "app"."we""ird" ("Other Col") WHERE "deleted_at" IS NULL`,
      `CREATE INDEX "we""ird_live_la""bel'); DROP TABLE x; --" ON "app"."we""ird" ("la""bel'); DROP TABLE x; --", "id") WHERE "deleted_at" IS NULL`
    ])
  })

  it("refuses identifiers Postgres would change: dots in columns, NUL, more than 63 bytes, duplicates", () => {
    const make = (table: string, columns: Record<string, string>) =>
      Entity.make("Named", { table, id: EverythingId, fields: { label: Entity.Text }, columns })
    throwsNaming(() => EntityTable.createTable(make("t", { label: "a.b" })), "Named.label", "dot")
    throwsNaming(() => EntityTable.createTable(make("t", { label: "a\u0000" })), "Named.label", "NUL")
    throwsNaming(
      () => EntityTable.createTable(make("t", { label: "x".repeat(64) })),
      "Named.label",
      "63 bytes"
    )
    throwsNaming(() => EntityTable.createTable(make("é".repeat(32), {})), "Named", "63 bytes")
    throwsNaming(() => EntityTable.createTable(make("a..b", {})), "Named", "empty identifier")
    throwsNaming(() => EntityTable.createTable(make("t", { label: "deleted_at" })), "deletedAt", "label")
    throwsNaming(() => EntityTable.createTable(make("t", { label: "version" })), "version", "label")
    assert.include(
      EntityTable.createTable(make("x".repeat(63), { label: "y".repeat(63) })),
      `"${"y".repeat(63)}"`
    )
  })

  it("index names: as they are within 63 bytes; else shortened, hashed, stable and distinct, column last", () => {
    const long = (table: string) =>
      Entity.make("Long", {
        table,
        id: EverythingId,
        fields: {
          alpha: Entity.Text.check(Schema.isMaxLength(9)),
          alphabet: Entity.Text.check(Schema.isMaxLength(9)),
          [`b${"e".repeat(60)}ta`]: Entity.Text.check(Schema.isMaxLength(9))
        },
        sortable: ["alpha", "alphabet", `b${"e".repeat(60)}ta`],
        unique: ["alpha"]
      })
    for (const table of ["t".repeat(63), "é".repeat(31), "short"]) {
      const definition = long(table)
      const names = EntityTable.indexes(definition).map((index) => index.name)
      assert.deepStrictEqual(
        EntityTable.indexes(definition).map((index) => index.name),
        names,
        "stable"
      )
      assert.strictEqual(new Set(names).size, names.length, names.join("\n"))
      for (const name of names) {
        assert.isAtMost(new TextEncoder().encode(name).length, EntityTable.maxIdentifierBytes, name)
      }
      assert.isTrue(names[0]!.endsWith("_unique_alpha"), names[0])
      assert.isTrue(names[1]!.endsWith("_live_alpha"), names[1])
      assert.isTrue(names[2]!.endsWith("_live_alphabet"), names[2])
    }
    assert.strictEqual(EntityTable.indexes(long("short"))[1]!.name, "short_live_alpha")
    const shortened = EntityTable.indexes(long("t".repeat(63)))[1]!.name
    assert.match(shortened, /^t+_[0-9a-f]{8}_live_alpha$/)
    assert.notStrictEqual(
      shortened,
      EntityTable.indexes(long(`${"t".repeat(62)}u`))[1]!.name,
      "tables that share a prefix get different names"
    )
  })

  it("long text gets no index; a unique one throws", () => {
    const notes = (unique: ReadonlyArray<"short" | "free">) =>
      Entity.make("Notes", {
        table: "notes",
        id: EverythingId,
        fields: {
          short: Entity.Text.check(Schema.isMaxLength(800)),
          long: Entity.Text.check(Schema.isMaxLength(801)),
          narrow: Entity.Text.check(Schema.isMaxCodePoints(600)),
          free: Entity.Text
        },
        sortable: ["short", "long", "narrow", "free"],
        filterable: ["long", "free"],
        unique
      })
    assert.deepStrictEqual(
      EntityTable.indexes(notes([])).map((index) => index.name),
      ["notes_live_short", "notes_live_narrow", "notes_live_created_at"]
    )
    assert.strictEqual(EntityTable.indexes(notes(["short"]))[0]!.name, "notes_unique_short")
    throwsNaming(() => EntityTable.indexes(notes(["free"])), "Notes.free", "isMaxLength")
  })

  it("indexes name only columns of the table", () => {
    const definition = { ...Everything, sortable: ["nope"] }
    throwsNaming(() => EntityTable.indexes(definition), "Everything", "nope")
  })
})
