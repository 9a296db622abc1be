// A path segment that names one resource rather than a kind of them: a number, or a long hex
// string or UUID. Replaced by ':' so that `/users/1` and `/users/2` are one route.
const ID_SEGMENT = /\/(?:\d+|[0-9a-f-]{16,})(?=\/|$)/gi

// GET paths already templated: most calls repeat a few paths, and a lookup costs a third of the
// templating (60-200 ns a call). Cleared when full, so a stream of distinct paths costs what it
// did without it.
const getRoutes = new Map<string, string>()
const MAX_REMEMBERED = 1_024

/**
 * The route of a request, as the limit algorithm tells routes apart: its method and path, without
 * the query, with ids templated out (`GET /users/:/orders`). An id the pattern does not catch
 * makes a route of its own; an origin keeps at most 256 (`RouteBaselines`).
 */
export function routeKey(method: string, path: string): string {
  if (method !== 'GET') return template(method, path)
  let key = getRoutes.get(path)
  if (key === undefined) {
    if (getRoutes.size >= MAX_REMEMBERED) getRoutes.clear()
    key = template(method, path)
    getRoutes.set(path, key)
  }
  return key
}

function template(method: string, path: string): string {
  const query = path.indexOf('?')
  const bare = query === -1 ? path : path.slice(0, query)
  return `${method} ${bare.replace(ID_SEGMENT, '/:')}`
}
