import { assert, describe, it } from "@effect/vitest"
import { Entity, Specification } from "@org/core"
import { DateTime, Effect, Schema } from "effect"
import * as fc from "fast-check"

// A local entity, so core's tests need no other workspace package.
const WidgetId = Entity.Uuid.pipe(Schema.brand("WidgetId"))
const W = Entity.make("Widget", {
  table: "widgets",
  id: WidgetId,
  fields: {
    name: Entity.Text.check(Schema.isMinLength(1), Schema.isMaxLength(40)),
    price: Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
    quantity: Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
    active: Schema.Boolean,
    note: Schema.NullOr(Entity.Text)
  }
})
type Widget = Entity.Type<typeof W>

const decodeWidget = Schema.decodeUnknownSync(W.schema)
const widget = (fields: { readonly [field: string]: unknown } = {}): Widget =>
  decodeWidget({
    id: "01900000-0000-7000-8000-000000000001",
    name: "saw",
    price: 10,
    quantity: 1,
    active: true,
    note: null,
    createdAt: "2024-01-01T00:00:00.000Z",
    updatedAt: "2024-01-01T00:00:00.000Z",
    version: 1,
    ...fields
  })

const holds = (spec: Specification.Spec, entity: Widget): boolean =>
  Effect.runSync(Effect.map(Specification.isSatisfiedBy(W, spec), (test) => test(entity)))

const failure = (spec: Specification.Spec): Specification.SpecificationError =>
  Effect.runSync(Effect.flip(Specification.isSatisfiedBy(W, spec)))

const { field } = Specification

// -----------------------------------------------------------------------------
// arbitraries
// -----------------------------------------------------------------------------

const operators = ["eq", "ne", "lt", "lte", "gt", "gte"] as const

// JSON has no -0 (it prints as 0), so a round trip cannot keep it.
const value: fc.Arbitrary<Specification.Value> = fc.oneof(
  fc.string({ unit: "grapheme" }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
  fc.integer(),
  fc.boolean()
)
const fieldName = fc.oneof(fc.constantFrom("name", "price", "note"), fc.string())

const encoded: fc.Arbitrary<Specification.Encoded> = fc.letrec<{ spec: Specification.Encoded }>((tie) => ({
  spec: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant({ _tag: "True" as const }),
    fc.constant({ _tag: "False" as const }),
    fc.record({
      _tag: fc.constant("Compare" as const),
      field: fieldName,
      op: fc.constantFrom(...operators),
      value
    }),
    fc.record({
      _tag: fc.constant("In" as const),
      field: fieldName,
      values: fc.array(value, { maxLength: 4 })
    }),
    fc.record({
      _tag: fc.constant("Like" as const),
      field: fieldName,
      pattern: fc.string(),
      caseInsensitive: fc.boolean()
    }),
    fc.record({ _tag: fc.constant("IsNull" as const), field: fieldName }),
    fc.record({ _tag: fc.constant("Between" as const), field: fieldName, low: value, high: value }),
    fc.record({ _tag: fc.constant("And" as const), specs: fc.array(tie("spec"), { maxLength: 3 }) }),
    fc.record({ _tag: fc.constant("Or" as const), specs: fc.array(tie("spec"), { maxLength: 3 }) }),
    fc.record({ _tag: fc.constant("Not" as const), spec: tie("spec") })
  )
})).spec

// -----------------------------------------------------------------------------

describe("Specification", () => {
  describe("JSON", () => {
    const FromJson = Schema.fromJsonString(Specification.Spec)

    it("round-trips any specification through a JSON string", () => {
      fc.assert(
        fc.property(encoded, (data) => {
          const spec = Specification.make(data)
          const json = Schema.encodeSync(FromJson)(spec)
          const decoded = Schema.decodeUnknownSync(FromJson)(json)
          assert.isTrue(Specification.isSpec(decoded))
          assert.deepStrictEqual(decoded, spec)
          assert.deepStrictEqual(JSON.parse(json), data)
          // A node's own properties are its data: plain JSON.stringify agrees.
          assert.strictEqual(JSON.stringify(spec), json)
        }),
        { numRuns: 1_000 }
      )
    })

    // The arbitrary derives from the codec, so any shape the codec accepts is
    // tried: make, the codec and the nodes' own properties must all agree.
    it.prop(
      "make, encoding and JSON.stringify agree on every encoded specification",
      { data: Schema.toEncoded(Specification.Spec) },
      ({ data }) => {
        const spec = Specification.make(data)
        assert.isTrue(Specification.isSpec(spec))
        assert.isTrue(Object.isFrozen(spec))
        assert.deepStrictEqual(Schema.decodeSync(Specification.Spec)(data), spec)
        assert.deepStrictEqual(Schema.encodeSync(Specification.Spec)(spec), data)
        assert.strictEqual(JSON.stringify(spec), JSON.stringify(data))
      },
      { arbitrary: { runs: 1_000 } }
    )

    it("decodes into nodes that keep the fluent combinators", () => {
      const decoded = Schema.decodeUnknownSync(FromJson)(
        '{"_tag":"Compare","field":"price","op":"gte","value":10}'
      )
      const combined = decoded.and(Specification.field("note").isNull()).not()
      assert.deepStrictEqual(JSON.parse(JSON.stringify(combined)), {
        _tag: "Not",
        spec: {
          _tag: "And",
          specs: [
            { _tag: "Compare", field: "price", op: "gte", value: 10 },
            { _tag: "IsNull", field: "note" }
          ]
        }
      })
    })

    it("rejects malformed JSON specifications", () => {
      const decode = Schema.decodeUnknownExit(FromJson)
      for (const json of [
        '{"_tag":"Compare","field":"price","op":"like","value":1}',
        '{"_tag":"Compare","field":"price","op":"eq","value":null}',
        '{"_tag":"Compare","field":"price","op":"eq","value":[1]}',
        '{"_tag":"In","field":"price","values":1}',
        '{"_tag":"Between","field":"price","low":1}',
        '{"_tag":"And","specs":[{"_tag":"Maybe"}]}',
        '{"_tag":"Not"}',
        '{"_tag":"Like","field":"name","pattern":"a%"}',
        "[]",
        "not json"
      ]) {
        assert.isTrue(decode(json)._tag === "Failure", json)
      }
    })
  })

  describe("builders", () => {
    it("the fluent builder produces exactly the hand-written AST", () => {
      fc.assert(
        fc.property(
          fieldName,
          fc.constantFrom(...operators),
          value,
          fc.array(value, { maxLength: 4 }),
          fc.string(),
          (name, op, v, values, pattern) => {
            const plain = (spec: Specification.Spec) => JSON.parse(JSON.stringify(spec))
            const cases: Array<[Specification.Spec, Specification.Encoded]> = [
              [field(name)[op](v), { _tag: "Compare", field: name, op, value: v }],
              [field(name).in(values), { _tag: "In", field: name, values }],
              [field(name).between(v, v), { _tag: "Between", field: name, low: v, high: v }],
              [field(name).like(pattern), { _tag: "Like", field: name, pattern, caseInsensitive: false }],
              [field(name).ilike(pattern), { _tag: "Like", field: name, pattern, caseInsensitive: true }],
              [field(name).isNull(), { _tag: "IsNull", field: name }]
            ]
            for (const [built, data] of cases) {
              assert.deepStrictEqual(built, Specification.make(data))
              assert.deepStrictEqual(plain(built), data)
            }
            const a = field(name)[op](v)
            const b = field(name).isNull()
            assert.deepStrictEqual(plain(a.and(b)), { _tag: "And", specs: [plain(a), plain(b)] })
            assert.deepStrictEqual(plain(a.or(b)), { _tag: "Or", specs: [plain(a), plain(b)] })
            assert.deepStrictEqual(plain(a.not()), { _tag: "Not", spec: plain(a) })
            assert.deepStrictEqual(Specification.and([a, b]), a.and(b))
            assert.deepStrictEqual(Specification.or([a, b]), a.or(b))
            assert.deepStrictEqual(Specification.not(a), a.not())
          }
        ),
        { numRuns: 500 }
      )
      assert.deepStrictEqual(JSON.parse(JSON.stringify(Specification.all)), { _tag: "True" })
      assert.deepStrictEqual(JSON.parse(JSON.stringify(Specification.none)), { _tag: "False" })
    })

    it("specifications are immutable data", () => {
      const spec = field("price").in([1, 2])
      assert.isTrue(Object.isFrozen(spec))
      assert.isTrue(Object.isFrozen(spec.values))
      assert.deepStrictEqual(Object.keys(spec), ["_tag", "field", "values"])
    })

    it("the typed builder encodes decoded values with the field schema", () => {
      const S = Specification.of(W)
      const id = Schema.decodeUnknownSync(WidgetId)("01900000-0000-7000-8000-00000000000A")
      assert.deepStrictEqual(S.field("price").gte(10), field("price").gte(10))
      assert.deepStrictEqual(S.field("active").eq(true), field("active").eq(true))
      assert.deepStrictEqual(S.field("id").eq(id), field("id").eq("01900000-0000-7000-8000-00000000000a"))
      assert.deepStrictEqual(
        S.field("createdAt").lt(DateTime.makeUnsafe(0)),
        field("createdAt").lt("1970-01-01T00:00:00.000Z")
      )
      assert.deepStrictEqual(
        S.field("updatedAt").between(DateTime.makeUnsafe(0), DateTime.makeUnsafe(1)),
        field("updatedAt").between("1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.001Z")
      )
      assert.deepStrictEqual(S.field("note").isNull(), field("note").isNull())
      assert.deepStrictEqual(S.field("note").ilike("a%"), field("note").ilike("a%"))
      assert.deepStrictEqual(S.field("quantity").in([1, 2]), field("quantity").in([1, 2]))
      // A type-correct value the schema refuses stays as it is; interpreting it fails.
      const negative = S.field("price").gt(-1)
      assert.deepStrictEqual(negative, field("price").gt(-1))
      assert.strictEqual(failure(negative)._tag, "InvalidValue")
    })

    it("the typed builder refuses unknown fields and wrong value types at compile time", () => {
      const S = Specification.of(W)
      // Each line is a compile error (checked by `pnpm check`); at run time
      // the spec it builds is refused by the interpreters the same way.
      // @ts-expect-error: not a field of Widget
      const unknown = S.field("nope").eq(1)
      // @ts-expect-error: price is a number
      const wrongType = S.field("price").gte("x")
      // @ts-expect-error: like applies to text fields only
      const likeOnNumber = S.field("price").like("1%")
      // @ts-expect-error: createdAt takes a DateTime, not its ISO string
      const isoString = S.field("createdAt").lt("2024-01-01T00:00:00.000Z")
      // @ts-expect-error: deletedAt is never readable
      S.field("deletedAt")
      // @ts-expect-error: name is not nullable
      S.field("name").isNull()
      // @ts-expect-error: in takes values of the field's type
      S.field("quantity").in(["1"])
      assert.strictEqual(failure(unknown)._tag, "UnknownField")
      assert.strictEqual(failure(wrongType)._tag, "InvalidValue")
      assert.strictEqual(failure(likeOnNumber)._tag, "InvalidValue")
      // The untyped form of the same value is fine: ISO strings are the encoded form.
      assert.isTrue(holds(isoString, widget({ createdAt: "2023-12-31T23:59:59.999Z" })))
    })
  })

  describe("in memory", () => {
    it("a predicate on a null field is false, so its negation is true (two-valued logic)", () => {
      const empty = widget({ note: null })
      const noted = widget({ note: "x" })
      const predicates = [
        field("note").eq("x"),
        field("note").ne("x"),
        field("note").lt("y"),
        field("note").gte(""),
        field("note").in(["x", "y"]),
        field("note").between("", "z"),
        field("note").like("%"),
        field("note").ilike("%")
      ]
      for (const spec of predicates) {
        assert.isFalse(holds(spec, empty), JSON.stringify(spec))
        assert.isTrue(holds(spec.not(), empty), JSON.stringify(spec))
      }
      assert.isTrue(holds(field("note").isNull(), empty))
      assert.isFalse(holds(field("note").isNull(), noted))
      assert.isFalse(holds(field("note").ne("x"), noted))
      assert.isTrue(holds(field("note").ne("y"), noted))
      assert.isFalse(holds(field("name").isNull(), empty))
    })

    it("empty and is true, empty or is false, empty in is false", () => {
      const w = widget()
      assert.isTrue(holds(Specification.and([]), w))
      assert.isFalse(holds(Specification.or([]), w))
      assert.isFalse(holds(field("price").in([]), w))
      assert.isTrue(holds(field("price").in([]).not(), w))
      assert.isTrue(holds(Specification.all, w))
      assert.isFalse(holds(Specification.none, w))
      assert.isTrue(holds(Specification.and([Specification.all, field("price").eq(10)]), w))
      assert.isFalse(holds(Specification.and([Specification.all, field("price").eq(11)]), w))
      assert.isTrue(holds(Specification.or([Specification.none, field("price").eq(10)]), w))
    })

    it("like: % any run, _ one code point, backslash escapes", () => {
      const cases: ReadonlyArray<readonly [pattern: string, text: string, expected: boolean]> = [
        ["100\\%", "100%", true],
        ["100\\%", "1000", false],
        ["100%", "1000", true],
        ["a\\_b", "a_b", true],
        ["a\\_b", "axb", false],
        ["a_b", "axb", true],
        ["\\\\", "\\", true],
        ["%\\\\%", "a\\b", true],
        ["%\\\\%", "ab", false],
        ["\\a", "a", true],
        ["_", "\u{1F600}", true],
        ["__", "\u{1F600}", false],
        ["_", "ab", false],
        ["a%", "a\nb", true],
        ["a_b", "a\nb", true],
        ["", "", true],
        ["", "a", false],
        ["%", "", true],
        ["%a%a%a%a%a%a%a%a%b", "a".repeat(39), false],
        ["abc", "ABC", false],
        ["[a]", "[a]", true],
        [".*", "xy", false],
        ["(x|y)", "(x|y)", true],
        ["'%'", "'; DROP TABLE widgets; --'", true]
      ]
      for (const [pattern, text, expected] of cases) {
        assert.strictEqual(
          holds(field("note").like(pattern), widget({ note: text })),
          expected,
          `${pattern} ~ ${text}`
        )
      }
    })

    it('ilike folds ASCII letters only, like Postgres under COLLATE "C"', () => {
      const cases: ReadonlyArray<readonly [pattern: string, text: string, expected: boolean]> = [
        ["abc", "ABC", true],
        ["ABC%", "abcdef", true],
        ["\\A", "a", true],
        ["é", "É", false],
        ["k", "\u212A", false],
        ["s", "\u017F", false],
        ["ǆ", "ǅ", false],
        ["i", "\u0130", false],
        ["%Z", "\u{1F600}z", true]
      ]
      for (const [pattern, text, expected] of cases) {
        assert.strictEqual(
          holds(field("note").ilike(pattern), widget({ note: text })),
          expected,
          `${pattern} ~* ${text}`
        )
      }
    })

    it("between is inclusive at both ends, and empty when low > high", () => {
      for (const [price, expected] of [
        [9.99, false],
        [10, true],
        [15, true],
        [20, true],
        [20.01, false]
      ] as const) {
        assert.strictEqual(holds(field("price").between(10, 20), widget({ price })), expected, String(price))
      }
      assert.isFalse(holds(field("price").between(20, 10), widget({ price: 15 })))
      assert.isTrue(holds(field("name").between("a", "b"), widget({ name: "a" })))
      assert.isFalse(holds(field("name").between("a", "b"), widget({ name: "ba" })))
    })

    it("compares date-times by instant, from ISO strings in any offset", () => {
      const w = widget({ createdAt: "2024-01-01T00:00:00.000Z" })
      assert.isTrue(holds(field("createdAt").eq("2024-01-01T01:00:00+01:00"), w))
      assert.isTrue(holds(field("createdAt").lt("2024-01-01T00:00:00.001Z"), w))
      assert.isFalse(holds(field("createdAt").lt("2024-01-01T00:00:00.000Z"), w))
      assert.isTrue(
        holds(field("createdAt").between("2023-12-31T23:59:59.999Z", "2024-01-01T00:00:00.000Z"), w)
      )
      assert.isTrue(holds(field("createdAt").in(["2020-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]), w))
      // Sub-millisecond digits are dropped when decoding, on both sides alike.
      assert.isTrue(holds(field("createdAt").eq("2024-01-01T00:00:00.0004Z"), w))
    })

    it("orders strings by code point and booleans false < true", () => {
      assert.isTrue(holds(field("name").gt("\uFFFD"), widget({ name: "\u{1F600}" })))
      assert.isTrue(holds(field("name").lt("\uE000"), widget({ name: "\uD7FF" })))
      assert.isTrue(holds(field("name").lt("a"), widget({ name: "Z" })))
      assert.isTrue(holds(field("name").lt("ab"), widget({ name: "a" })))
      assert.isTrue(holds(field("active").lt(true), widget({ active: false })))
      assert.isFalse(holds(field("active").gt(true), widget({ active: true })))
      assert.isTrue(holds(field("id").eq("01900000-0000-7000-8000-000000000001".toUpperCase()), widget()))
    })

    it("nested specifications combine as boolean algebra", () => {
      const w = widget({ price: 10, note: null, name: "saw" })
      const spec = field("price")
        .gte(5)
        .and(field("note").eq("x").not())
        .and(Specification.or([field("name").like("s%"), field("name").eq("hammer")]))
      assert.isTrue(holds(spec, w))
      assert.isFalse(holds(spec.not(), w))
      assert.isFalse(holds(spec, widget({ price: 4 })))
    })

    it("filter keeps the satisfying entities in order", () => {
      const rows = [widget({ price: 1 }), widget({ price: 5 }), widget({ price: 3 })]
      const kept = Effect.runSync(Specification.filter(W, field("price").gte(3), rows))
      assert.deepStrictEqual(
        kept.map((w) => w.price),
        [5, 3]
      )
    })

    it("agrees with the brief's RegExp reading of LIKE on random patterns", () => {
      // The reference: an anchored RegExp with the u and s flags, literals
      // escaped as \u{...}, ASCII letters as [xX] when case-insensitive.
      const reference = (pattern: string, caseInsensitive: boolean): RegExp | undefined => {
        let source = ""
        let escaped = false
        for (const char of pattern) {
          const literal = () =>
            caseInsensitive && /^[A-Za-z]$/.test(char)
              ? `[${char.toLowerCase()}${char.toUpperCase()}]`
              : `\\u{${char.codePointAt(0)!.toString(16)}}`
          if (escaped) {
            source += literal()
            escaped = false
          } else if (char === "\\") escaped = true
          else if (char === "%") source += ".*"
          else if (char === "_") source += "."
          else source += literal()
        }
        return escaped ? undefined : new RegExp(`^${source}$`, "su")
      }
      const alphabet = fc.constantFrom(
        "a",
        "A",
        "b",
        "%",
        "_",
        "\\",
        ".",
        "*",
        "(",
        "[",
        "\u{1F600}",
        "é",
        "\n"
      )
      const text = fc.array(alphabet, { maxLength: 8 }).map((cs) => cs.join(""))
      fc.assert(
        fc.property(text, text, fc.boolean(), (pattern, note, caseInsensitive) => {
          const regExp = reference(pattern, caseInsensitive)
          const spec = caseInsensitive ? field("note").ilike(pattern) : field("note").like(pattern)
          if (regExp === undefined) {
            assert.strictEqual(failure(spec)._tag, "InvalidValue")
          } else {
            assert.strictEqual(holds(spec, widget({ note })), regExp.test(note))
          }
        }),
        { numRuns: 3_000 }
      )
    })
  })

  describe("errors", () => {
    it("refuses fields outside the column allow-list, prototype names included", () => {
      for (const name of [
        "nope",
        "deletedAt",
        "deleted_at",
        "constructor",
        "__proto__",
        "toString",
        "hasOwnProperty",
        "",
        "price; DROP TABLE widgets; --",
        'price" = 1 OR "1',
        "$1"
      ]) {
        for (const spec of [field(name).eq(1), field(name).isNull(), field(name).like("%")]) {
          const error = failure(spec)
          assert.strictEqual(error._tag, "UnknownField", name)
          assert.strictEqual(error.field, name)
          assert.include(error.message, JSON.stringify(name))
        }
      }
    })

    it("refuses values the field schema cannot decode, and operators that make no sense", () => {
      const cases: ReadonlyArray<readonly [Specification.Spec, string]> = [
        [field("price").eq("10"), "price"],
        [field("price").gte(-1), "price"],
        [field("quantity").eq(1.5), "quantity"],
        [field("active").eq("true"), "active"],
        [field("name").eq(""), "name"],
        [field("name").in(["ok", "x".repeat(41)]), "name"],
        [field("name").eq("\uD800"), "name"],
        [field("note").eq("a\u0000b"), "note"],
        [field("note").like("\uDC00"), "note"],
        [field("createdAt").lt("yesterday"), "createdAt"],
        [field("createdAt").lt("+010000-01-01T00:00:00.000Z"), "createdAt"],
        [field("id").eq("not-a-uuid"), "id"],
        [field("version").between(0, 3), "version"],
        [field("price").like("1%"), "price"],
        [field("active").ilike("t%"), "active"],
        [field("createdAt").like("2024%"), "createdAt"],
        [field("note").like("abc\\"), "note"],
        [field("note").ilike("\\\\\\"), "note"],
        [Specification.make({ _tag: "Compare", field: "price", op: "eq", value: Number.NaN }), "price"],
        [
          Specification.make({ _tag: "Compare", field: "price", op: "eq", value: Number.POSITIVE_INFINITY }),
          "price"
        ]
      ]
      for (const [spec, name] of cases) {
        const error = failure(spec)
        assert.strictEqual(error._tag, "InvalidValue", JSON.stringify(spec))
        assert.strictEqual(error.field, name)
        assert.isTrue(error.message.startsWith(`${name}: `), error.message)
        assert.notMatch(error.message, /SELECT|WHERE|\$1|"price"|LIKE/)
      }
    })

    it("reports the first error in document order, the same for every interpreter", () => {
      const spec = Specification.and([field("price").eq(1), field("nope").eq(1), field("price").eq("x")])
      assert.strictEqual(failure(spec)._tag, "UnknownField")
      const other = Specification.or([field("price").eq("x"), field("nope").eq(1)])
      assert.strictEqual(failure(other)._tag, "InvalidValue")
    })
  })
})
