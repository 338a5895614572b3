import { describe, it } from "@effect/vitest"
import { CacheStore } from "@org/core"
import { CacheStoreLaws } from "@org/testing"
import { Effect } from "effect"
import { TestClock } from "effect/testing"

const fresh = Effect.map(CacheStore.makeMemory, (store) => ({ store, prefix: "", advance: TestClock.adjust }))

describe("CacheStore.layerMemory obeys the CacheStore laws", () => {
  for (const [name, law] of Object.entries(CacheStoreLaws.laws)) {
    it.effect(name, () => law(fresh))
  }
})
