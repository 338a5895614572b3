/**
 * @since 0.1.0
 */
export * as CacheStoreLaws from "./CacheStoreLaws.ts"
export * as RepositoryLaws from "./RepositoryLaws.ts"
export * as UnitOfWorkLaws from "./UnitOfWorkLaws.ts"
export * as Widget from "./Widget.ts"
