/**
 * The names a generated entity gets (class, table, route, permissions) and
 * the rules they must pass: a PascalCase entity name, camelCase field names,
 * no JavaScript or SQL reserved word, none of the kit's managed columns, no
 * name the example already uses, no field twice.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import type * as FieldSpec from "./FieldSpec.ts"

/**
 * A name that breaks a rule: `what` says which name (`entity name`,
 * `field 2`), `name` is the offending text.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidName extends Schema.TaggedError<InvalidName>()("InvalidName", {
  what: Schema.String,
  value: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.what} ${JSON.stringify(this.value)}: ${this.reason}`
  }
}

/**
 * Every name derived from the entity name.
 *
 * @since 0.1.0
 * @category models
 */
export interface EntityNames {
  /** `Invoice` */
  readonly pascal: string
  /** `invoice` */
  readonly camel: string
  /** `Invoices` */
  readonly pluralPascal: string
  /** `invoices`: the HttpApi group id and the repository's variable names */
  readonly pluralCamel: string
  /** `invoices`: the table */
  readonly table: string
  /** `invoices`: the route segment (`/api/v1/invoices`) and the permission prefix */
  readonly kebab: string
}

/**
 * Words JavaScript reserves (in strict mode and modules) or that shadow
 * globals a generated module uses.
 *
 * @since 0.1.0
 * @category constants
 */
export const javascriptReserved: ReadonlySet<string> = new Set([
  "arguments",
  "await",
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "eval",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "implements",
  "import",
  "in",
  "instanceof",
  "interface",
  "let",
  "new",
  "null",
  "package",
  "private",
  "protected",
  "public",
  "return",
  "static",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "undefined",
  "var",
  "void",
  "while",
  "with",
  "yield",
  // not reserved, but a field of that name breaks objects and their prototypes
  "constructor",
  "prototype",
  "__proto__",
  "toString",
  "valueOf",
  "hasOwnProperty"
])

/**
 * Postgres' reserved key words (SQL:2016 reserved words Postgres also
 * reserves): a column of that name needs quoting in every hand-written query.
 *
 * @since 0.1.0
 * @category constants
 */
export const sqlReserved: ReadonlySet<string> = new Set([
  "all",
  "analyse",
  "analyze",
  "and",
  "any",
  "array",
  "as",
  "asc",
  "asymmetric",
  "authorization",
  "between",
  "binary",
  "both",
  "case",
  "cast",
  "check",
  "collate",
  "collation",
  "column",
  "concurrently",
  "constraint",
  "create",
  "cross",
  "current_catalog",
  "current_date",
  "current_role",
  "current_schema",
  "current_time",
  "current_timestamp",
  "current_user",
  "default",
  "deferrable",
  "desc",
  "distinct",
  "do",
  "else",
  "end",
  "except",
  "false",
  "fetch",
  "for",
  "foreign",
  "freeze",
  "from",
  "full",
  "grant",
  "group",
  "having",
  "ilike",
  "in",
  "initially",
  "inner",
  "intersect",
  "into",
  "is",
  "isnull",
  "join",
  "lateral",
  "leading",
  "left",
  "like",
  "limit",
  "localtime",
  "localtimestamp",
  "natural",
  "not",
  "notnull",
  "null",
  "offset",
  "on",
  "only",
  "or",
  "order",
  "outer",
  "overlaps",
  "placing",
  "primary",
  "references",
  "returning",
  "right",
  "select",
  "session_user",
  "similar",
  "some",
  "symmetric",
  "system_user",
  "table",
  "tablesample",
  "then",
  "to",
  "trailing",
  "true",
  "union",
  "unique",
  "user",
  "using",
  "variadic",
  "verbose",
  "when",
  "where",
  "window",
  "with"
])

/**
 * The columns the kit manages on every entity (`ownerId` with `--owned`).
 *
 * @since 0.1.0
 * @category constants
 */
export const managedFields: ReadonlySet<string> = new Set([
  "id",
  "createdAt",
  "updatedAt",
  "version",
  "deletedAt",
  "ownerId"
])

/**
 * Entities, groups and tables the example already has (its own, the
 * accounts', the audit log's), and the names of its own modules.
 *
 * @since 0.1.0
 * @category constants
 */
export const takenEntityNames: ReadonlySet<string> = new Set([
  "Item",
  "User",
  "Audit",
  "AuditLog",
  "Health",
  "Session",
  "Auth",
  "Jwks",
  "RefreshToken",
  "Revocation",
  "Idempotency",
  "Outbox",
  "Inbox",
  "Event",
  "Api",
  "Policy",
  "Permission",
  "Role",
  "Service",
  "Store",
  "Migration",
  "App"
])

const isLower = (c: string | undefined) => c !== undefined && c >= "a" && c <= "z"
const isUpper = (c: string | undefined) => c !== undefined && c >= "A" && c <= "Z"
const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9"
const isAlnum = (c: string) => isLower(c) || isUpper(c) || isDigit(c)

// `LineItem` -> ["Line", "Item"]; digits stay with the word before them.
const words = (pascal: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const c of pascal) {
    if (isUpper(c) || out.length === 0) out.push(c)
    else out[out.length - 1] += c
  }
  return out
}

/**
 * The English plural of a (PascalCase) word, by the common rules: `Box` ->
 * `Boxes`, `Category` -> `Categories`, `Invoice` -> `Invoices`. Irregular
 * plurals are passed with `--plural`.
 *
 * @since 0.1.0
 * @category names
 */
export const pluralize = (word: string): string => {
  const lower = word.toLowerCase()
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${word}es`
  if (lower.endsWith("y") && lower.length > 1 && !"aeiou".includes(lower[lower.length - 2]!)) {
    return `${word.slice(0, -1)}ies`
  }
  return `${word}s`
}

const checkAlnum = (what: string, name: string): InvalidName | undefined => {
  const bad = [...name].find((c) => !isAlnum(c))
  return bad === undefined
    ? undefined
    : new InvalidName({
        what,
        value: name,
        reason: `may hold only letters and digits, not ${JSON.stringify(bad)}`
      })
}

const checkPascal = (what: string, name: string): InvalidName | undefined => {
  if (name === "") return new InvalidName({ what, value: name, reason: "is empty" })
  if (!isUpper(name[0])) {
    return new InvalidName({
      what,
      value: name,
      reason: "must start with an upper-case letter (PascalCase, e.g. Invoice)"
    })
  }
  const notAlnum = checkAlnum(what, name)
  if (notAlnum !== undefined) return notAlnum
  // two capitals in a row would make ambiguous table and route names (`HTTPLog`)
  for (let i = 1; i < name.length; i++) {
    if (isUpper(name[i]) && isUpper(name[i - 1])) {
      return new InvalidName({
        what,
        value: name,
        reason: "has two capitals in a row: write acronyms as words (HttpLog)"
      })
    }
  }
  if (name.length > 40) return new InvalidName({ what, value: name, reason: "is longer than 40 characters" })
  return undefined
}

/**
 * Checks an entity name (and its plural, given or derived) and derives
 * every name from it.
 *
 * @since 0.1.0
 * @category names
 */
export const entityNames = (name: string, plural?: string): EntityNames | InvalidName => {
  const bad = checkPascal("entity name", name)
  if (bad !== undefined) return bad
  const pluralPascal = plural ?? pluralize(name)
  const badPlural = checkPascal("plural", pluralPascal)
  if (badPlural !== undefined) return badPlural
  if (pluralPascal === name) {
    return new InvalidName({
      what: "plural",
      value: pluralPascal,
      reason: "must differ from the entity name"
    })
  }
  if (takenEntityNames.has(name) || takenEntityNames.has(pluralPascal)) {
    return new InvalidName({
      what: "entity name",
      value: name,
      reason: "the example already has an entity or module of that name"
    })
  }
  const camel = `${name[0]!.toLowerCase()}${name.slice(1)}`
  const pluralCamel = `${pluralPascal[0]!.toLowerCase()}${pluralPascal.slice(1)}`
  for (const candidate of [camel, pluralCamel]) {
    if (javascriptReserved.has(candidate)) {
      return new InvalidName({
        what: "entity name",
        value: name,
        reason: `"${candidate}" is a JavaScript reserved word`
      })
    }
  }
  const pieces = words(pluralPascal).map((w) => w.toLowerCase())
  const table = pieces.join("_")
  if (sqlReserved.has(table)) {
    return new InvalidName({
      what: "entity name",
      value: name,
      reason: `its table "${table}" is an SQL reserved word`
    })
  }
  const takenTables = [
    "items",
    "users",
    "refresh_tokens",
    "revocations",
    "audit_log",
    "event_outbox",
    "event_inbox"
  ]
  if (takenTables.includes(table) || table.startsWith("auth_") || table.startsWith("http_")) {
    return new InvalidName({
      what: "entity name",
      value: name,
      reason: `the table "${table}" already exists in the example`
    })
  }
  return { pascal: name, camel, pluralPascal, pluralCamel, table, kebab: pieces.join("-") }
}

/**
 * The column of a field (`dueAt` -> `due_at`), as `Entity.make` derives it.
 *
 * @since 0.1.0
 * @category names
 */
export const columnOf = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)

/**
 * Checks the field names of a spec: camelCase, not reserved (in JavaScript,
 * in SQL as a column), not managed by the kit, not twice. The first broken
 * rule, naming the field by its 1-based index.
 *
 * @since 0.1.0
 * @category names
 */
export const checkFields = (spec: FieldSpec.Spec): InvalidName | undefined => {
  const seen = new Map<string, number>()
  for (const [i, field] of spec.entries()) {
    const what = `field ${i + 1}`
    const name = field.name
    if (!isLower(name[0])) {
      return new InvalidName({
        what,
        value: name,
        reason: "must start with a lower-case letter (camelCase, e.g. dueDate)"
      })
    }
    const notAlnum = checkAlnum(what, name)
    if (notAlnum !== undefined) return notAlnum
    if (name.length > 50)
      return new InvalidName({ what, value: name, reason: "is longer than 50 characters" })
    if (managedFields.has(name)) {
      return new InvalidName({
        what,
        value: name,
        reason: "is a column the kit manages (id, createdAt, updatedAt, version, deletedAt, ownerId)"
      })
    }
    if (javascriptReserved.has(name))
      return new InvalidName({ what, value: name, reason: "is a JavaScript reserved word" })
    const column = columnOf(name)
    if (sqlReserved.has(column)) {
      return new InvalidName({ what, value: name, reason: `its column "${column}" is an SQL reserved word` })
    }
    const before = seen.get(column)
    if (before !== undefined) {
      return new InvalidName({
        what,
        value: name,
        reason: `the same field as field ${before} (column "${column}")`
      })
    }
    seen.set(column, i + 1)
  }
  return undefined
}
