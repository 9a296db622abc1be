import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { freePort } from './free-port.ts'

/** Whether Debian's `redis-server` is on this machine (`.ci/run` installs it). */
export const haveRedis = spawnSync('redis-server', ['--version']).status === 0

/** A real redis-server of the test's own, on a free loopback port. */
export interface TestRedis {
  readonly port: number
  /** Kills it (SIGKILL): connections reset, the port closes. */
  kill(): Promise<void>
  /** Stops it (SIGSTOP): connections stay open, nothing answers. */
  pause(): void
  /** Lets a paused server go on (SIGCONT). */
  resume(): void
  /** Starts it again on the same port after `kill()` (empty: nothing is persisted). */
  restart(): Promise<void>
  stop(): Promise<void>
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(500, () => {
      socket.destroy()
      resolve(false)
    })
    socket.on('error', () => resolve(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (data) => {
      socket.destroy()
      resolve(data.toString().startsWith('+PONG'))
    })
  })
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  // Ready when it answers PING (a loaded machine may take a while to start it).
  for (let i = 0; i < 200; i++) {
    if (await ping(port)) return child
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  child.kill('SIGKILL')
  throw new Error(`redis-server did not answer on port ${port}`)
}

/** Starts a redis-server for one test file. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  let child = await launch(port)
  const exited = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve()
      else child.once('exit', () => resolve())
    })
  return {
    port,
    async kill() {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited()
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async restart() {
      child = await launch(port)
    },
    async stop() {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
      await exited()
    },
  }
}
