/**
 * Conditional requests (RFC 9110 section 13) for versioned entities: the
 * `ETag` of an entity is its version (`"3"`, a strong validator: the JSON of
 * one version never changes); `If-None-Match` on a read answers 304 when the
 * client's copy is current; `If-Match` on a write becomes the repository's
 * expected version, so a stale write fails with 412 instead of overwriting.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"

/**
 * The strong entity tag of a version.
 *
 * @example
 * ```ts
 * import { Preconditions } from "@org/http"
 * Preconditions.etag(3) // "\"3\""
 * ```
 *
 * @since 0.1.0
 * @category etags
 */
export const etag = (version: number): string => `"${version}"`

const entityTag = /^\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*$/

interface Tag {
  readonly weak: boolean
  readonly opaque: string
}

// Splits a list of entity tags; commas cannot appear inside a tag's quotes.
const parseTags = (header: string): ReadonlyArray<Tag | undefined> =>
  header.split(",").map((part) => {
    const match = entityTag.exec(part)
    return match === null ? undefined : { weak: match[1] !== undefined, opaque: match[2] ?? "" }
  })

const versionOf = (tag: Tag): number | undefined => {
  if (!/^[1-9][0-9]{0,14}$/.test(tag.opaque)) return undefined
  return Number(tag.opaque)
}

/**
 * What an `If-Match` header asks for: any current version (`*`), or one of
 * a set of versions. Weak tags and malformed parts never match (strong
 * comparison), so a header with none left matches nothing.
 *
 * @since 0.1.0
 * @category models
 */
export type IfMatch =
  | { readonly _tag: "Any" }
  | { readonly _tag: "Versions"; readonly versions: ReadonlyArray<number> }

/**
 * Parses `If-Match`; `None` when the header is absent (the write is unconditional).
 *
 * @example
 * ```ts
 * import { Preconditions } from "@org/http"
 * Preconditions.parseIfMatch("\"3\"") // Some({ _tag: "Versions", versions: [3] })
 * ```
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseIfMatch = (header: string | undefined): Option.Option<IfMatch> => {
  if (header === undefined) return Option.none()
  if (header.trim() === "*") return Option.some({ _tag: "Any" })
  const versions = parseTags(header).flatMap((tag) => {
    const version = tag === undefined || tag.weak ? undefined : versionOf(tag)
    return version === undefined ? [] : [version]
  })
  return Option.some({ _tag: "Versions", versions })
}

/**
 * The version a write must be made against for an `If-Match`: `undefined`
 * for none or `*`, the version itself for one tag, and for several tags the
 * current version if it is among them (else a version that cannot match).
 *
 * @since 0.1.0
 * @category parsing
 */
export const expectedVersion = (
  ifMatch: Option.Option<IfMatch>,
  current: number | undefined
): number | undefined => {
  if (Option.isNone(ifMatch) || ifMatch.value._tag === "Any") return undefined
  const { versions } = ifMatch.value
  if (versions.length === 1) return versions[0]
  return current !== undefined && versions.includes(current) ? current : 0
}

/**
 * Whether an `If-None-Match` header matches the current version (weak
 * comparison, as RFC 9110 requires for this header): then a read answers 304.
 *
 * @since 0.1.0
 * @category parsing
 */
export const ifNoneMatchHits = (header: string | undefined, version: number): boolean => {
  if (header === undefined) return false
  if (header.trim() === "*") return true
  return parseTags(header).some((tag) => tag !== undefined && versionOf(tag) === version)
}
