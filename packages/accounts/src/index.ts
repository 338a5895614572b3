/**
 * Accounts as a kit feature. Client-safe: `AccountsApi` and `AccountsEvents`
 * (the security events; import them as `@org/accounts/AccountsApi` and
 * `@org/accounts/AccountsEvents` to stay clear of server code). Server:
 * `Accounts` (use cases), `AccountsConfig`, `AccountsServer`,
 * `AccountsHandlers`, `Users` (store port and memory store), `UsersSql`.
 *
 * @since 0.2.0
 */
export * as Accounts from "./Accounts.ts"
export * as AccountsApi from "./AccountsApi.ts"
export * as AccountsConfig from "./AccountsConfig.ts"
export * as AccountsEvents from "./AccountsEvents.ts"
export * as AccountsHandlers from "./AccountsHandlers.ts"
export * as AccountsServer from "./AccountsServer.ts"
export * as Users from "./Users.ts"
export * as UsersSql from "./UsersSql.ts"
