/**
 * Every published entry point, so that `tsc` (with `skipLibCheck: false`)
 * checks all of the packages' declaration files, not only those the
 * service happens to import.
 */
export * as Accounts from "@org/accounts"
export * as Auth from "@org/auth"
export * as Core from "@org/core"
export * as Http from "@org/http"
export * as Redis from "@org/redis"
export * as Server from "@org/server"
export * as Sql from "@org/sql"
export * as Testing from "@org/testing"
