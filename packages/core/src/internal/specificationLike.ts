/**
 * LIKE patterns in memory, with Postgres' rules: `%` matches any run of
 * characters, `_` exactly one character (one code point), `\` makes the next
 * character literal. Case-insensitive matching folds ASCII letters only, as
 * Postgres' ILIKE does under `COLLATE "C"`. Internal: not exported.
 *
 * Matching is the classic wildcard algorithm that only ever backtracks to the
 * last `%`: O(pattern x text) at worst. A backtracking RegExp built from the
 * pattern would be exponential in the number of `%` on hostile input.
 */

const anyRun = -1
const anyOne = -2
const backslash = 0x5c
const percent = 0x25
const underscore = 0x5f

const foldAscii = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c)

/** A compiled pattern: code points (folded when case-insensitive) and wildcards. */
export interface Pattern {
  readonly tokens: Int32Array
  readonly caseInsensitive: boolean
}

/** Compiles a pattern; `undefined` when it ends with a lone escape character. */
export const compile = (pattern: string, caseInsensitive: boolean): Pattern | undefined => {
  const tokens: Array<number> = []
  let escaped = false
  for (const char of pattern) {
    const c = char.codePointAt(0)!
    if (escaped) {
      tokens.push(caseInsensitive ? foldAscii(c) : c)
      escaped = false
    } else if (c === backslash) {
      escaped = true
    } else if (c === percent) {
      // Consecutive `%` match what one does; keeping one keeps matching linear.
      if (tokens[tokens.length - 1] !== anyRun) tokens.push(anyRun)
    } else if (c === underscore) {
      tokens.push(anyOne)
    } else {
      tokens.push(caseInsensitive ? foldAscii(c) : c)
    }
  }
  return escaped ? undefined : { tokens: Int32Array.from(tokens), caseInsensitive }
}

const codePoints = (text: string): Array<number> => {
  const out: Array<number> = []
  for (let i = 0; i < text.length; ) {
    const c = text.codePointAt(i)!
    out.push(c)
    i += c > 0xffff ? 2 : 1
  }
  return out
}

/** Whether the whole of `text` matches the pattern. */
export const matches = (pattern: Pattern, text: string): boolean => {
  const tokens = pattern.tokens
  const fold = pattern.caseInsensitive
  const chars = codePoints(text)
  const n = chars.length
  const m = tokens.length
  let t = 0
  let p = 0
  let star = -1
  let starText = 0
  while (t < n) {
    const token = p < m ? tokens[p]! : anyOne - 1
    if (token === anyOne || (token >= 0 && token === (fold ? foldAscii(chars[t]!) : chars[t]))) {
      p++
      t++
    } else if (token === anyRun) {
      star = p++
      starText = t
    } else if (star >= 0) {
      // Let the last `%` swallow one more character and retry from there.
      p = star + 1
      t = ++starText
    } else {
      return false
    }
  }
  while (p < m && tokens[p] === anyRun) p++
  return p === m
}
