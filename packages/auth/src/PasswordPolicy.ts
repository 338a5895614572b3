/**
 * The password policy applied when a password is chosen (registration,
 * change, reset), never at login. Pure: no I/O, no breach API. A password
 * is refused, with every reason that applies, when
 *
 * 1. after NFC normalisation it has fewer than 12 or more than 128
 *    characters (code points);
 * 2. it is only whitespace;
 * 3. more than half of it is one character, or it has fewer than 5
 *    different characters, or it is a shorter sequence repeated
 *    (`"abcabcabcabc"`, `"passwordpassword"`);
 * 4. it is, ignoring case, a walk of at least 6 characters along the
 *    keyboard (QWERTY, AZERTY, QWERTZ rows), the alphabet or the digits,
 *    forwards or backwards, with only digits, punctuation or spaces around
 *    it (`"123456789012"`, `"qwertyuiopas"`, `"abcdefghijkl"`,
 *    `"qwertyuiop12!"`);
 * 5. it is built only from entries of a bundled list of about 100 of the
 *    most common breached passwords and their base words, read through the
 *    usual substitutions (`@`/`4` for a, `0` for o, `1`/`!`/`|` for i or l,
 *    `3` for e, `$`/`5` for s, `7`/`+` for t, `8` for b, `9` for g), with any
 *    digits, punctuation or spaces before, between or after them
 *    (`"Password2024!"`, `"P@ssw0rd123"`, `"dragonmonkey99"`);
 * 6. it contains the user's email local part or name (or a part of either)
 *    of at least 4 characters, ignoring case.
 *
 * The reasons are plain sentences safe to show to the user: they never
 * repeat the password. The list is short on purpose (it ships in the
 * bundle); a deployment that wants a full breach corpus (for example the
 * k-anonymity range API of Have I Been Pwned) checks it in addition.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

/**
 * The password was refused. `reasons` are human-readable and safe to return
 * to the client.
 *
 * @since 0.1.0
 * @category errors
 */
export class WeakPassword extends Schema.TaggedError<WeakPassword>()("WeakPassword", {
  reasons: Schema.Array(Schema.String)
}) {}

/**
 * What the policy knows about the account, to refuse passwords made from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Context {
  readonly email?: string | undefined
  readonly name?: string | undefined
}

/**
 * The shortest accepted length, in code points after NFC.
 *
 * @since 0.1.0
 * @category constants
 */
export const minLength = 12

/**
 * The longest accepted length, in code points after NFC (bounds the cost of
 * hashing and of these checks).
 *
 * @since 0.1.0
 * @category constants
 */
export const maxLength = 128

/**
 * The bundled list of common breached passwords and base words (lower case,
 * letters only: digits and symbols around them are ignored by the check).
 *
 * @since 0.1.0
 * @category constants
 */
export const commonPasswords: ReadonlyArray<string> = [
  "password",
  "passwort",
  "passw",
  "pass",
  "letmein",
  "iloveyou",
  "welcome",
  "admin",
  "administrator",
  "root",
  "qwerty",
  "azerty",
  "qwertz",
  "asdf",
  "zxcv",
  "dragon",
  "monkey",
  "football",
  "baseball",
  "soccer",
  "hockey",
  "basketball",
  "master",
  "login",
  "sunshine",
  "princess",
  "shadow",
  "superman",
  "batman",
  "spiderman",
  "starwars",
  "pokemon",
  "trustno",
  "hello",
  "freedom",
  "whatever",
  "secret",
  "access",
  "mustang",
  "michael",
  "jennifer",
  "jordan",
  "hunter",
  "ranger",
  "buster",
  "charlie",
  "thomas",
  "robert",
  "daniel",
  "andrew",
  "jessica",
  "ashley",
  "michelle",
  "nicole",
  "tigger",
  "summer",
  "winter",
  "spring",
  "autumn",
  "flower",
  "cookie",
  "chocolate",
  "cheese",
  "pepper",
  "ginger",
  "maggie",
  "harley",
  "killer",
  "computer",
  "internet",
  "google",
  "facebook",
  "samsung",
  "apple",
  "orange",
  "banana",
  "silver",
  "golden",
  "diamond",
  "lovely",
  "love",
  "loveme",
  "angel",
  "baby",
  "family",
  "friends",
  "letmeinnow",
  "changeme",
  "default",
  "guest",
  "test",
  "testing",
  "user",
  "temp",
  "abc",
  "qazwsx",
  "zaq",
  "xsw",
  "bitch",
  "fuck",
  "fuckyou",
  "ninja",
  "jesus",
  "matrix",
  "yankees",
  "liverpool",
  "chelsea",
  "arsenal",
  "london",
  "america",
  "canada",
  "monday",
  "friday"
]

// What each character may stand for, beyond itself.
const substitutions: Readonly<Record<string, string>> = {
  "@": "a",
  "4": "a",
  "0": "o",
  "1": "il",
  "!": "il",
  "|": "il",
  "3": "e",
  $: "s",
  "5": "s",
  "7": "t",
  "+": "t",
  "8": "b",
  "9": "g"
}

const sequences: ReadonlyArray<string> = [
  "abcdefghijklmnopqrstuvwxyz",
  "0123456789",
  "qwertyuiopasdfghjklzxcvbnm",
  "azertyuiopqsdfghjklmwxcvbn",
  "qwertzuiopasdfghjklyxcvbnm",
  "!@#$%^&*()"
]

const isLetter = (char: string): boolean => /\p{L}/u.test(char)

const stands = (char: string, letter: string): boolean =>
  char === letter || (substitutions[char]?.includes(letter) ?? false)

// Whether the whole is common words and filler: `start[i]` means chars[0, i)
// is non-letters only or ends a word; a word is tried from every such start.
// A dynamic programme, not a regular expression, so it stays linear in the
// list size whatever the input.
const isBuiltFromCommon = (chars: ReadonlyArray<string>): boolean => {
  const n = chars.length
  const reachable = new Array<boolean>(n + 1).fill(false)
  const afterWord = new Array<boolean>(n + 1).fill(false)
  reachable[0] = true
  for (let i = 0; i <= n; i++) {
    if (!reachable[i]) continue
    if (i < n && !isLetter(chars[i]!)) reachable[i + 1] = true
    for (const word of commonPasswords) {
      const end = i + word.length
      if (end > n) continue
      let matches = true
      for (let k = 0; k < word.length && matches; k++) matches = stands(chars[i + k]!, word[k]!)
      if (matches) {
        reachable[end] = true
        afterWord[end] = true
      }
    }
  }
  // A word must appear, and whatever follows the last one is filler.
  for (let i = 0; i <= n; i++) {
    if (afterWord[i] && chars.slice(i).every((char) => !isLetter(char))) return true
  }
  return false
}

// The length of the longest walk starting at `from`: each character the
// next (or previous) one of a sequence, cyclically, in one direction.
const walkLength = (chars: ReadonlyArray<string>, from: number): number => {
  let longest = 0
  for (const sequence of sequences) {
    for (const direction of [1, -1]) {
      let end = from
      while (end < chars.length) {
        const at = sequence.indexOf(chars[end]!)
        if (at < 0) break
        if (
          end > from &&
          (sequence.indexOf(chars[end - 1]!) + direction + sequence.length) % sequence.length !== at
        ) {
          break
        }
        end++
      }
      longest = Math.max(longest, end - from)
    }
  }
  return longest
}

// A walk of 6 or more characters with nothing but digits, punctuation or
// spaces around it ("123456789012", "qwertyuiop12!", "!!abcdefghij").
const isSequence = (chars: ReadonlyArray<string>): boolean => {
  for (let from = 0; from < chars.length; from++) {
    const length = walkLength(chars, from)
    if (length >= 6 && chars.slice(from + length).every((char) => !isLetter(char))) return true
    if (isLetter(chars[from]!)) return false
  }
  return false
}

const isRepeated = (chars: ReadonlyArray<string>): boolean => {
  const n = chars.length
  for (let period = 1; period <= n / 2; period++) {
    let repeats = true
    for (let i = period; i < n && repeats; i++) repeats = chars[i] === chars[i - period]
    if (repeats) return true
  }
  return false
}

const personalParts = (context: Context): ReadonlyArray<string> => {
  const parts: Array<string> = []
  const add = (value: string) => {
    const normal = value.normalize("NFC").toLowerCase()
    if ([...normal].length >= 4) parts.push(normal)
  }
  const local = context.email?.split("@")[0]
  if (local !== undefined) {
    add(local)
    for (const part of local.split(/[._+-]+/)) add(part)
  }
  if (context.name !== undefined) {
    add(context.name)
    add(context.name.replace(/\s+/gu, ""))
    for (const part of context.name.split(/[\s._-]+/u)) add(part)
  }
  return parts
}

/**
 * Checks a password against the policy (see the module documentation);
 * fails with every reason that applies.
 *
 * @example
 * ```ts
 * import { Result } from "effect"
 * import { PasswordPolicy } from "@org/auth"
 *
 * Result.isSuccess(PasswordPolicy.check("correct horse battery staple")) // true
 * Result.isFailure(PasswordPolicy.check("Password2024!")) // true
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const check = (password: string, context: Context = {}): Result.Result<void, WeakPassword> => {
  const normal = password.normalize("NFC")
  const chars = [...normal]
  const reasons: Array<string> = []
  if (chars.length < minLength) reasons.push(`must be at least ${minLength} characters long`)
  if (chars.length > maxLength) {
    // The other checks are pointless (and costlier) on a password refused anyway.
    return Result.fail(new WeakPassword({ reasons: [`must be at most ${maxLength} characters long`] }))
  }
  if (chars.length > 0 && chars.every((char) => /\s/u.test(char))) reasons.push("must not be only spaces")
  const lower = [...normal.toLowerCase()]
  const counts = new Map<string, number>()
  for (const char of lower) counts.set(char, (counts.get(char) ?? 0) + 1)
  const mostCommon = Math.max(0, ...counts.values())
  if (chars.length > 0 && (mostCommon * 2 > chars.length || counts.size < 5 || isRepeated(lower))) {
    reasons.push("must not be mostly one character, a short pattern repeated or too few different characters")
  }
  if (isSequence(lower)) reasons.push("must not be a keyboard, alphabetical or numeric sequence")
  if (isBuiltFromCommon(lower))
    reasons.push("must not be a common password, even with digits or symbols added")
  const lowered = normal.toLowerCase()
  if (personalParts(context).some((part) => lowered.includes(part))) {
    reasons.push("must not contain your name or email address")
  }
  return reasons.length === 0 ? Result.succeed(undefined) : Result.fail(new WeakPassword({ reasons }))
}

/**
 * `check` as an Effect, for use in a handler.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { PasswordPolicy } from "@org/auth"
 *
 * const program = PasswordPolicy.validate("a long and unusual phrase", { email: "ada@example.com" })
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = (password: string, context: Context = {}): Effect.Effect<void, WeakPassword> =>
  Effect.fromResult(check(password, context))
