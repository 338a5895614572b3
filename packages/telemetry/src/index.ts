/**
 * @since 0.4.0
 */
export * as Redaction from "./Redaction.ts"
export * as RuntimeMetrics from "./RuntimeMetrics.ts"
export * as Sampler from "./Sampler.ts"
export * as Telemetry from "./Telemetry.ts"
export * as TelemetryConfig from "./TelemetryConfig.ts"
export * as TelemetryLogger from "./TelemetryLogger.ts"
