/**
 * What happens to items, as domain events. They are integration events:
 * with `NATS_URL` set the outbox relay publishes them to JetStream, so other
 * services can follow the catalogue. Their payloads are the item as it is
 * after the change (the API's own representation: nothing secret in it).
 *
 * @since 0.3.0
 */
import * as DomainEvent from "@org/core/DomainEvent"
import { Schema } from "effect"
import { Item } from "./Item.ts"

/**
 * An item was created; the payload is the new item.
 *
 * @since 0.3.0
 * @category events
 */
export const ItemCreated = DomainEvent.define("ItemCreated", {
  aggregateType: "Item",
  payload: Item.schema,
  integration: true
})

/**
 * An item was changed; the payload is the item after the change and the
 * names of the fields the patch set.
 *
 * @since 0.3.0
 * @category events
 */
export const ItemUpdated = DomainEvent.define("ItemUpdated", {
  aggregateType: "Item",
  payload: Schema.Struct({ item: Item.schema, changed: Schema.Array(Schema.String) }),
  integration: true
})

/**
 * An item was deleted; the payload names its owner and its last version.
 *
 * @since 0.3.0
 * @category events
 */
export const ItemDeleted = DomainEvent.define("ItemDeleted", {
  aggregateType: "Item",
  payload: Schema.Struct({ ownerId: Schema.String, version: Schema.Int }),
  integration: true
})

/**
 * Every item event.
 *
 * @since 0.3.0
 * @category events
 */
export const all = [ItemCreated, ItemUpdated, ItemDeleted] as const
