/**
 * A bounded LRU of verified tokens, keyed by the SHA-256 of the token (the
 * tokens themselves are never kept). An entry is served only inside the
 * window it was verified for, `[notBefore, expiresAt)`: never at or past the
 * token's `exp`, so the cache can only refuse sooner than a full check.
 *
 * Synchronous on purpose: a hit costs a hash and a map lookup, no fiber hop.
 */
import { hash } from "node:crypto"

interface Entry<V> {
  readonly value: V
  readonly notBefore: number
  readonly expiresAt: number
}

export interface VerifiedCache<V> {
  readonly keyOf: (scope: string, token: string) => string
  readonly get: (key: string, nowMillis: number) => V | undefined
  readonly set: (
    key: string,
    value: V,
    window: { readonly notBefore: number; readonly expiresAt: number }
  ) => void
}

export const make = <V>(capacity: number): VerifiedCache<V> => {
  // A Map iterates in insertion order: re-inserting on a hit keeps the least
  // recently used entry first, where an eviction takes it.
  const entries = new Map<string, Entry<V>>()
  return {
    keyOf: (scope, token) => `${scope}\u0000${hash("sha256", token, "base64url")}`,
    get: (key, nowMillis) => {
      const entry = entries.get(key)
      if (entry === undefined) return undefined
      entries.delete(key)
      if (nowMillis >= entry.expiresAt) return undefined
      entries.set(key, entry)
      return nowMillis < entry.notBefore ? undefined : entry.value
    },
    set: (key, value, window) => {
      if (window.expiresAt <= window.notBefore) return
      entries.delete(key)
      if (entries.size >= capacity) {
        const oldest = entries.keys().next()
        if (oldest.done !== true) entries.delete(oldest.value)
      }
      entries.set(key, { value, notBefore: window.notBefore, expiresAt: window.expiresAt })
    }
  }
}
