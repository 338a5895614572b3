import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { hello } from "@org/core"

it.effect("smoke", () => Effect.sync(() => assert.strictEqual(hello, 1)))
