import { describe, it } from "@effect/vitest"
import { RepositoryMemory, UnitOfWork } from "@org/core"
import { UnitOfWorkLaws, Widget } from "@org/testing"
import { Effect, Layer } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"

const fresh = Effect.all({
  left: RepositoryMemory.make(Widget.Widget),
  right: RepositoryMemory.make(Widget.Widget)
})

const Services = Layer.mergeAll(UnitOfWork.layerMemory, SecureRandom.layerWebCrypto)

describe("UnitOfWork.layerMemory with RepositoryMemory", () => {
  for (const [name, law] of Object.entries(UnitOfWorkLaws.laws)) {
    it.effect(name, () => law(fresh).pipe(Effect.provide(Services)))
  }
})
