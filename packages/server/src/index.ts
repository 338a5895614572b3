/**
 * @since 0.2.0
 */
export * as Runner from "./Runner.ts"
export * as ServerConfig from "./ServerConfig.ts"
