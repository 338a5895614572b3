/**
 * `CrudGroup.handlers` is checked against the group where it is mounted:
 * the `@ts-expect-error` lines below must stay errors (`pnpm check` fails
 * on an unused one), the others must compile. The runtime tests prove the
 * compiling variants also serve.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Repository, RepositoryMemory } from "@org/core"
import { Gizmo, Widget } from "@org/testing"
import { Context, Effect, Layer, Ref, Schema } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import { HttpApi, HttpApiBuilder, type HttpApiGroup } from "effect/http-api"
import { CrudGroup, HttpApp, Problem } from "../src/index.ts"
import { serve } from "./fixtures/client.ts"

class Widgets extends Context.Service<Widgets, Repository.ForEntity<typeof Widget.Widget>>()(
  "test/Widgets"
) {}
class Gizmos extends Context.Service<Gizmos, Repository.ForEntity<typeof Gizmo.Gizmo>>()("test/Gizmos") {}
class Naming extends Context.Service<Naming, { readonly prefix: string }>()("test/Naming") {}

// A narrower create payload: the server sets `sku`.
const CreateWidget = Widget.Widget.create.mapFields(({ sku: _sku, ...fields }) => fields)

class Api extends HttpApp.api(
  HttpApi.make("types")
    .add(CrudGroup.make("widgets", { entity: Widget.Widget, path: "/widgets" }))
    .add(CrudGroup.make("narrow", { entity: Widget.Widget, path: "/narrow", create: CreateWidget }))
) {}

// Handlers of another entity do not fit the group.
// @ts-expect-error Gizmo handlers on the Widget group
HttpApiBuilder.group(Api, "widgets", CrudGroup.handlers({ entity: Gizmo.Gizmo, repository: Gizmos }))

// Without `toCreate`, the handlers take the entity's own create input,
// which a narrower payload does not give.
// @ts-expect-error the payload lacks `sku`
HttpApiBuilder.group(Api, "narrow", CrudGroup.handlers({ entity: Widget.Widget, repository: Widgets }))

// A `toCreate` for another payload does not fit either.
HttpApiBuilder.group(
  Api,
  "narrow",
  // @ts-expect-error the group's payload has no `sku2`
  CrudGroup.handlers({
    entity: Widget.Widget,
    repository: Widgets,
    toCreate: (payload: { readonly sku2: string }) => Effect.die(payload)
  })
)

const narrowHandlers = HttpApiBuilder.group(
  Api,
  "narrow",
  CrudGroup.handlers({
    entity: Widget.Widget,
    repository: Widgets,
    toCreate: (payload: typeof CreateWidget.Type) => Effect.succeed({ ...payload, sku: "SERVER-1" })
  })
)

// A service `toCreate` uses per request is a requirement of the handler
// layer: leaving it out does not compile.
const perRequest = HttpApiBuilder.group(
  Api,
  "widgets",
  CrudGroup.handlers({
    entity: Widget.Widget,
    repository: Widgets,
    toCreate: (payload: typeof Widget.Widget.create.Type) =>
      Effect.map(Naming, (naming) => ({ ...payload, name: `${naming.prefix}${payload.name}` }))
  })
)
const memory = Layer.effect(Widgets, RepositoryMemory.make(Widget.Widget)).pipe(
  Layer.provide(SecureRandom.layerWebCrypto)
)
type WidgetsGroup = Layer.Layer<HttpApiGroup.Service<"types", "widgets">, never, Problem.Middleware>
// @ts-expect-error Naming is not provided
export const missingNaming: WidgetsGroup = perRequest.pipe(Layer.provide(memory))

// Object-level checks built once from a service of the layer.
const authorizeBuilt = (builds: Ref.Ref<number>) =>
  HttpApiBuilder.group(
    Api,
    "widgets",
    CrudGroup.handlers({
      entity: Widget.Widget,
      repository: Widgets,
      authorize: Effect.gen(function* () {
        const naming = yield* Naming
        yield* Ref.update(builds, (n) => n + 1)
        const onlyPrefixed = (widget: typeof Widget.Widget.schema.Type) =>
          widget.name.startsWith(naming.prefix)
            ? Effect.void
            : Effect.fail(new Problem.Forbidden({ detail: "Only prefixed widgets change." }))
        return { update: onlyPrefixed, delete: onlyPrefixed }
      })
    })
  )

const saw = { name: "saw", sku: "S-1", price: 12.5, quantity: 3, active: true }

describe("CrudGroup.handlers types", () => {
  it.effect(
    "a narrower payload with its toCreate serves; a per-request service from the layer is found",
    () =>
      Effect.gen(function* () {
        const client = yield* serve(
          HttpApp.layer({
            api: Api,
            handlers: Layer.mergeAll(narrowHandlers, perRequest).pipe(
              Layer.provide(memory),
              Layer.provide(Layer.succeed(Naming, { prefix: "acme-" }))
            )
          })
        )
        const { sku: _sku, ...withoutSku } = saw
        const narrow = yield* client.call("POST", "/narrow", { body: JSON.stringify(withoutSku) })
        assert.strictEqual(narrow.status, 201, narrow.text)
        assert.strictEqual(narrow.body.sku, "SERVER-1")
        const named = yield* client.call("POST", "/widgets", { body: JSON.stringify({ ...saw, sku: "S-2" }) })
        assert.strictEqual(named.status, 201, named.text)
        assert.strictEqual(named.body.name, "acme-saw")
      }).pipe(Effect.scoped)
  )

  it.effect("authorize given as an Effect is built once and refuses with 403", () =>
    Effect.gen(function* () {
      const builds = yield* Ref.make(0)
      const client = yield* serve(
        HttpApp.layer({
          api: Api,
          handlers: Layer.mergeAll(authorizeBuilt(builds), narrowHandlers).pipe(
            Layer.provide(memory),
            Layer.provide(Layer.succeed(Naming, { prefix: "acme-" }))
          )
        })
      )
      const plain = yield* client.call("POST", "/widgets", { body: JSON.stringify(saw) })
      const prefixed = yield* client.call("POST", "/widgets", {
        body: JSON.stringify({ ...saw, sku: "S-3", name: "acme-saw" })
      })
      const patch = { body: JSON.stringify({ quantity: 4 }) }
      const refused = yield* client.call("PATCH", `/widgets/${plain.body.id}`, patch)
      assert.strictEqual(refused.status, 403, refused.text)
      const allowed = yield* client.call("PATCH", `/widgets/${prefixed.body.id}`, patch)
      assert.strictEqual(allowed.status, 200, allowed.text)
      const deleted = yield* client.call("DELETE", `/widgets/${plain.body.id}`)
      assert.strictEqual(deleted.status, 403, deleted.text)
      assert.strictEqual(yield* Ref.get(builds), 1)
      // the refused write changed nothing
      const after = yield* client.call("GET", `/widgets/${plain.body.id}`)
      assert.strictEqual(after.body.quantity, 3)
      assert.isTrue(Schema.is(Schema.Int)(after.body.version))
    }).pipe(Effect.scoped)
  )
})
