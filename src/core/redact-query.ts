/**
 * `path` with its query replaced by `?…`: the form every record, hook payload, channel message
 * and `explain()` line carries. Query strings often hold tokens (`?access_token=`, signed URLs),
 * and all of these end up in logs; the names are left out too, since a bare `?sk-...` is a
 * secret as well. A middleware that needs the query reads `request.path`.
 */
export function redactQuery(path: string): string {
  const q = path.indexOf('?')
  return q === -1 ? path : `${path.slice(0, q)}?…`
}
