/**
 * @since 0.1.0
 */
export * as Entity from "./Entity.ts"
export * as Result from "./Result.ts"
