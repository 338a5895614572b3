/**
 * The item entity of the example API (see the API contract): its fields and
 * the payloads clients may send. A definition: no server code.
 *
 * @since 0.1.0
 */
import { UserId } from "@org/accounts/AccountsApi"
import * as Decimal from "@org/core/Decimal"
import * as Entity from "@org/core/Entity"
import { Schema } from "effect"

/**
 * An item id (UUID).
 *
 * @since 0.1.0
 * @category models
 */
export const ItemId = Entity.Uuid.pipe(Schema.brand("ItemId"))

const notBlank = Schema.makeFilter((s: string) => s.trim().length > 0, { expected: "a non-blank string" })

/**
 * 1..200 characters, not blank. Characters are code points, as JSON
 * Schema's `maxLength` and Postgres' `char_length` count them: 150 emoji are
 * 150 characters, not 300 UTF-16 units.
 *
 * @since 0.1.0
 * @category models
 */
export const Name = Entity.Text.check(Schema.isMinCodePoints(1), Schema.isMaxCodePoints(200), notBlank)

/**
 * A price: an exact decimal >= 0 with at most 2 decimals and 10 digits
 * before the point, the `numeric(12, 2)` column's own values. More decimals
 * are refused, never rounded (`Decimal`, docs/adr/0002).
 *
 * @since 0.1.0
 * @category models
 */
export const Price = Decimal.make({ precision: 12, scale: 2 }).check(Schema.isGreaterThanOrEqualTo(0))

/**
 * A quantity: an integer >= 0 that fits a Postgres `integer`.
 *
 * @since 0.1.0
 * @category models
 */
export const Quantity = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2_147_483_647 }))

/**
 * The item entity. `ownerId` is set by the server, never by the client.
 *
 * @since 0.1.0
 * @category models
 */
export const Item = Entity.make("Item", {
  table: "items",
  id: ItemId,
  fields: {
    name: Name,
    description: Schema.NullOr(Entity.Text.check(Schema.isMaxCodePoints(2000))),
    price: Price,
    quantity: Quantity,
    category: Schema.NullOr(Entity.Text.check(Schema.isMaxCodePoints(50))),
    ownerId: UserId
  },
  sortable: ["id", "name", "price", "quantity", "category", "createdAt", "updatedAt"],
  filterable: [
    "id",
    "name",
    "description",
    "price",
    "quantity",
    "category",
    "ownerId",
    "createdAt",
    "updatedAt"
  ]
})

const { ownerId: _owner, ...clientFields } = Item.create.fields
const { ownerId: _ownerPatch, ...clientPatch } = Item.update.fields

/**
 * What a client sends to create an item (no owner: the server sets it).
 *
 * @since 0.1.0
 * @category models
 */
export const CreateItem = Schema.Struct(clientFields)

/**
 * What a client sends to change an item: any subset of its fields; `null`
 * clears `description` or `category`.
 *
 * @since 0.1.0
 * @category models
 */
export const UpdateItem = Schema.Struct(clientPatch)
