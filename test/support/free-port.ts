import { createServer } from 'node:net'

/**
 * A loopback port free a moment ago, for a program the test starts that needs its port up front
 * (redis-server, nginx). Another process may take it first; the caller's start check fails then.
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}
