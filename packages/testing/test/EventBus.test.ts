import { describe, it } from "@effect/vitest"
import { EventBus, RepositoryMemory, UnitOfWork } from "@org/core"
import { EventBusLaws, Widget } from "@org/testing"
import { Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

const subject = {
  bus: EventBus.layerMemory.pipe(Layer.provideMerge(UnitOfWork.layerMemory)),
  fresh: RepositoryMemory.make(Widget.Widget)
}

describe("EventBus.layerMemory with UnitOfWork.layerMemory and RepositoryMemory", () => {
  for (const [name, law] of Object.entries(EventBusLaws.laws)) {
    it.effect(name, () => law(subject).pipe(Effect.provide(SecureRandom.layerWebCrypto)))
  }
})
