/**
 * `Users.layerMemory` obeys the accounts store laws; each law and each
 * generated scenario gets a new, empty store. Scenarios are cheap here, so
 * there are many of them.
 */
import * as Users from "../src/Users.ts"
import * as UsersLaws from "./laws/UsersLaws.ts"

UsersLaws.suite("Users.layerMemory obeys the accounts store laws", Users.layerMemory, {
  runs: 500,
  maxCommands: 25
})
