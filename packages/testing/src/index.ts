/**
 * @since 0.1.0
 */
export * as AuditLogLaws from "./AuditLogLaws.ts"
export * as CacheStoreLaws from "./CacheStoreLaws.ts"
export * as EventBusLaws from "./EventBusLaws.ts"
export * as Gizmo from "./Gizmo.ts"
export * as IdempotencyStoreLaws from "./IdempotencyStoreLaws.ts"
export * as JwtAttacks from "./JwtAttacks.ts"
export * as OutboxLaws from "./OutboxLaws.ts"
export * as RateLimitStoreLaws from "./RateLimitStoreLaws.ts"
export * as RepositoryLaws from "./RepositoryLaws.ts"
export * as RevocationStoreLaws from "./RevocationStoreLaws.ts"
export * as SpanRecorder from "./SpanRecorder.ts"
export * as UnitOfWorkLaws from "./UnitOfWorkLaws.ts"
export * as Widget from "./Widget.ts"
