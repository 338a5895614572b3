/**
 * Writes the package.json of the consumer check's scratch project (see
 * check.sh): the consumer's own dependencies from scripts/consumer/package.json,
 * with each workspace package replaced by its packed tarball and each
 * effect-family package by the peer range the packed packages declare, so
 * npm installs the newest version the kit allows. A family package no
 * packed package declares as a peer (`@effect/vitest`) gets `^` and the
 * workspace's version; other tools keep the workspace's exact versions.
 * Every packed package is also an npm override, so a kit package reached
 * only through another one resolves to its tarball.
 * Fails if a tarball still says `workspace:` or two packages declare
 * different ranges for the same peer.
 *
 *   node scripts/consumer/manifest.ts <tarball-dir> <project-dir>
 */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

interface Manifest {
  readonly name: string
  readonly version: string
  readonly private?: boolean
  readonly dependencies?: Readonly<Record<string, string>>
  readonly devDependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly optionalDependencies?: Readonly<Record<string, string>>
}

const fail = (message: string): never => {
  console.error(`consumer: ${message}`)
  process.exit(1)
}

const [tarballDir, projectDir] = process.argv.slice(2)
if (tarballDir === undefined || projectDir === undefined) {
  fail("usage: node scripts/consumer/manifest.ts <tarball-dir> <project-dir>")
}
const consumer: Manifest = JSON.parse(
  Fs.readFileSync(Path.join(import.meta.dirname, "package.json"), "utf8")
) as Manifest

const tarballs = new Map<string, string>()
const peerRanges = new Map<string, Map<string, string>>()
for (const file of Fs.readdirSync(tarballDir!).filter((name) => name.endsWith(".tgz"))) {
  const path = Path.join(tarballDir!, file)
  const packed = JSON.parse(
    execFileSync("tar", ["-xzOf", path, "package/package.json"], { encoding: "utf8" })
  ) as Manifest
  // `pnpm pack` rewrites `workspace:*` to versions; a leftover would not install outside the workspace.
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"] as const) {
    for (const [name, range] of Object.entries(packed[field] ?? {})) {
      if (range.startsWith("workspace:")) fail(`${file}: ${field}.${name} is still "${range}"`)
    }
  }
  for (const [name, range] of Object.entries(packed.peerDependencies ?? {})) {
    const byPackage = peerRanges.get(name) ?? new Map<string, string>()
    byPackage.set(packed.name, range)
    peerRanges.set(name, byPackage)
  }
  tarballs.set(packed.name, `file:${Path.relative(projectDir!, path)}`)
}

const isEffectFamily = (name: string) => name === "effect" || name.startsWith("@effect/")

const resolve = (deps: Readonly<Record<string, string>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(deps).map(([name, version]): [string, string] => {
      if (version.startsWith("workspace:")) {
        return [name, tarballs.get(name) ?? fail(`no tarball for ${name} in ${tarballDir}`)]
      }
      const declared = peerRanges.get(name)
      if (declared !== undefined) {
        const ranges = new Set(declared.values())
        if (ranges.size > 1) {
          fail(
            `the packages disagree on the peer range of ${name}: ${JSON.stringify(Object.fromEntries(declared))}`
          )
        }
        return [name, [...ranges][0]!]
      }
      return [name, isEffectFamily(name) ? `^${version}` : version]
    })
  )

const project = {
  name: "consumer",
  version: "0.0.0",
  private: true,
  type: "module",
  dependencies: resolve(consumer.dependencies ?? {}),
  devDependencies: resolve(consumer.devDependencies ?? {}),
  // A kit package the consumer does not name (`@org/telemetry`, which
  // `@org/server` depends on) comes from its tarball too, as it would from
  // the registry once published.
  overrides: Object.fromEntries(tarballs)
}
Fs.writeFileSync(Path.join(projectDir!, "package.json"), `${JSON.stringify(project, null, 2)}\n`)
for (const [name, range] of Object.entries({ ...project.dependencies, ...project.devDependencies })) {
  if (!range.startsWith("file:")) console.log(`consumer:   ${name}@${range}`)
}
