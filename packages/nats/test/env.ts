/**
 * What the NATS tests may use. With NATS_URL they run against it (a server
 * with JetStream); without it they are skipped (and say so) unless
 * REQUIRE_SERVICES=1, in which case they fail: CI never skips them.
 */
export const natsUrl: string | undefined = process.env.NATS_URL || undefined
export const requireServices: boolean = ["1", "true", "yes"].includes(process.env.REQUIRE_SERVICES ?? "")
export const skipNats: boolean = natsUrl === undefined && !requireServices
if (skipNats)
  console.warn("NATS tests skipped: NATS_URL is not set (set it, or REQUIRE_SERVICES=1 to fail instead)")
/** The URL to use: REQUIRE_SERVICES without NATS_URL fails loudly at connect. */
export const url: string = natsUrl ?? "nats://127.0.0.1:1"
