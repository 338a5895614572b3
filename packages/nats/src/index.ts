/**
 * @since 0.3.0
 */
export * as JetStreamAdmin from "./JetStreamAdmin.ts"
export * as JetStreamConsumer from "./JetStreamConsumer.ts"
export * as JetStreamPublisher from "./JetStreamPublisher.ts"
export * as NatsConnection from "./NatsConnection.ts"
