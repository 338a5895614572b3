/**
 * Test fixtures: copies of the example's registration files with their
 * anchors and no generated entity (`fixtures/<path>.txt`), so the planner's
 * output does not depend on what has been generated into the example since;
 * `Anchors.test.ts` checks the real files still carry every anchor.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Planner } from "@org/cli"

/** The repository root. */
export const root = Path.resolve(import.meta.dirname, "../../..")

/** The files the planner edits, by path. */
export const registrationPaths = [
  Planner.anchors.api.path,
  Planner.anchors.policy.path,
  Planner.anchors.migrations.path,
  Planner.anchors.app.path,
  Planner.anchors.conformance.path
] as const

/** Where the frozen copy of a registration file is. */
export const fixturePath = (path: string): string => Path.join(import.meta.dirname, "fixtures", `${path}.txt`)

/** The registration files as the fixtures freeze them. */
export const exampleFiles = (): Map<string, string> =>
  new Map(registrationPaths.map((path) => [path, Fs.readFileSync(fixturePath(path), "utf8")]))

/** The registration files as they are in the repository now. */
export const liveExampleFiles = (): Map<string, string> =>
  new Map(registrationPaths.map((path) => [path, Fs.readFileSync(Path.join(root, path), "utf8")]))

/** An in-memory repository for the planner. */
export const view =
  (files: ReadonlyMap<string, string>): Planner.Files =>
  (path) =>
    files.get(path)

/** A request with every option. */
export const everyOption: Planner.Request = {
  name: "Invoice",
  fields: "title:string(1..200),amount:decimal(12,2),status:enum(draft|sent|paid),tags:string[],due:date?",
  withEvents: true,
  withCache: true,
  softDelete: true,
  owned: true,
  force: false
}

/** The same entity with no option. */
export const noOption: Planner.Request = {
  ...everyOption,
  withEvents: false,
  withCache: false,
  softDelete: false,
  owned: false
}
