/**
 * Small helpers on request targets, shared by the edge middlewares.
 *
 * @internal
 */

/**
 * The path of a request target: everything before its query or fragment.
 *
 * @internal
 */
export const pathOf = (url: string): string => {
  const query = url.indexOf("?")
  const fragment = url.indexOf("#")
  const end = query === -1 ? fragment : fragment === -1 ? query : Math.min(query, fragment)
  return end === -1 ? url : url.slice(0, end)
}

/**
 * Redacted names that match every query parameter (for
 * `UrlParams.redactUrl` and `UrlParams.CurrentRedactedNames`): queries may
 * carry secrets, so no value of one is recorded.
 *
 * @internal
 */
export const everyName: ReadonlyArray<RegExp> = [/(?:)/]
