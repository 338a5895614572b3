/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"
export * as FieldSpec from "./FieldSpec.ts"
export * as Model from "./Model.ts"
export * as Names from "./Names.ts"
export * as Planner from "./Planner.ts"
