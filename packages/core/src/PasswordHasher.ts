/**
 * The password-hashing port. `@org/auth` implements it with Argon2id in a
 * pool of worker threads; hashes are PHC strings
 * (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), so parameters travel with
 * each hash and can be raised without invalidating old ones.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"

/**
 * The service.
 *
 * - `hash` returns a PHC string with a fresh random salt.
 * - `verify` compares in constant time; a malformed hash is `false`, not an
 *   error (an account must not become unusable in a way a caller can see).
 * - `needsRehash` is true when a hash was made with weaker parameters than
 *   the current ones (rehash on the next successful login).
 * - `dummyVerify` spends the time of one verification on nothing, so that a
 *   login for an unknown account takes as long as a wrong password.
 *
 * @since 0.1.0
 * @category services
 */
export class PasswordHasher extends Context.Service<
  PasswordHasher,
  {
    readonly hash: (password: Redacted.Redacted<string>) => Effect.Effect<string>
    readonly verify: (hash: string, password: Redacted.Redacted<string>) => Effect.Effect<boolean>
    readonly needsRehash: (hash: string) => boolean
    readonly dummyVerify: (password: Redacted.Redacted<string>) => Effect.Effect<void>
  }
>()("@org/core/PasswordHasher") {}
