/**
 * @since 0.1.0
 */
export * as ApiDefinition from "./ApiDefinition.ts"
export * as Authentication from "./Authentication.ts"
export * as BodyLimit from "./BodyLimit.ts"
export * as CanonicalPath from "./CanonicalPath.ts"
export * as ContentType from "./ContentType.ts"
export * as Cors from "./Cors.ts"
export * as CrudGroup from "./CrudGroup.ts"
export * as Filters from "./Filters.ts"
export * as Health from "./Health.ts"
export * as HttpApp from "./HttpApp.ts"
export * as Preconditions from "./Preconditions.ts"
export * as Problem from "./Problem.ts"
export * as RateLimit from "./RateLimit.ts"
export * as RequestId from "./RequestId.ts"
export * as SecurityHeaders from "./SecurityHeaders.ts"
