/**
 * Accounts as a kit feature. Client-safe: `AccountsApi` (import it as
 * `@org/accounts/AccountsApi` to stay clear of server code). Server:
 * `Accounts` (use cases), `AccountsConfig`, `AccountsServer`,
 * `AccountsHandlers`, `Users` (store port and memory store), `UsersSql`.
 *
 * @since 0.2.0
 */
export * as Accounts from "./Accounts.ts"
export * as AccountsApi from "./AccountsApi.ts"
export * as AccountsConfig from "./AccountsConfig.ts"
export * as AccountsHandlers from "./AccountsHandlers.ts"
export * as AccountsServer from "./AccountsServer.ts"
export * as Users from "./Users.ts"
export * as UsersSql from "./UsersSql.ts"
