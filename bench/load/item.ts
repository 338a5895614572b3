/**
 * The item JSON the bare servers of the load benchmark answer: `ITEM_JSON`
 * (the example API's own answer, passed by `bench/load.bench.ts`), else a
 * sample of the same shape for runs by hand.
 */
export const itemJson = (): string =>
  process.env.ITEM_JSON ||
  JSON.stringify({
    id: "01a24552-cc16-75e3-b334-5acde30e2d7a",
    name: "Saw",
    description: "A hand saw for wood",
    price: 12.5,
    quantity: 3,
    category: "tools",
    ownerId: "01a24552-c67c-7100-a632-4973ffb18ecd",
    createdAt: "2026-12-05T08:29:43.830Z",
    updatedAt: "2026-12-05T08:29:43.830Z",
    version: 1
  })
