/**
 * @since 0.1.0
 */
export * as Entity from "./Entity.ts"
export * as Ordering from "./Ordering.ts"
export * as Pagination from "./Pagination.ts"
export * as Repository from "./Repository.ts"
export * as RepositoryMemory from "./RepositoryMemory.ts"
export * as RepositorySql from "./RepositorySql.ts"
export * as Result from "./Result.ts"
export * as Specification from "./Specification.ts"
export * as UnitOfWork from "./UnitOfWork.ts"
