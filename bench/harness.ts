// What the throughput benchmarks (overhead.ts, peers.ts) share: the origins they run against, in
// processes of their own and pinned to the other core, and the closed-loop measuring window.
// Method: docs/performance.md.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHistogram } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Agent, getGlobalDispatcher, request, setGlobalDispatcher, type Dispatcher } from 'undici'

/** One call of a variant: resolves once the body has been read, rejects when the call failed. */
export type Send = (url: string) => Promise<void>

/** One measuring window of one variant. Latencies in ms. */
export interface Sample {
  /** Successful calls per second. */
  rps: number
  /** Client CPU (user + system) per successful call, in µs. */
  cpuUsPerReq: number
  p50: number
  p99: number
  /** Share of calls that succeeded. */
  success: number
}

/**
 * Runs `send` closed-loop, `inFlight` at a time, for `ms`; calls under way when the window
 * closes are waited for and counted.
 */
export async function runWindow(
  send: Send,
  url: string,
  inFlight: number,
  ms: number,
): Promise<Sample> {
  const histogram = createHistogram()
  let ok = 0
  let failed = 0
  let stop = false
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  const timer = setTimeout(() => (stop = true), ms)
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (!stop) {
        const start = process.hrtime.bigint()
        try {
          await send(url)
          ok++
        } catch {
          failed++
        }
        histogram.record(process.hrtime.bigint() - start)
      }
    }),
  )
  clearTimeout(timer)
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  return {
    rps: (ok * 1000) / elapsed,
    cpuUsPerReq: (cpu.user + cpu.system) / Math.max(1, ok),
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    success: ok / Math.max(1, ok + failed),
  }
}

/**
 * One measuring window in a process of its own: `script` run again with `--child <spec>` and
 * `args` (under this process's Node flags, on its core), which prints the window's
 * {@link Sample} as JSON (see {@link runChildWindow}). Each window then has a fresh heap and JIT
 * state of its variant's own: in one process, V8's allocation-site pretenuring, decided while
 * one variant runs, sends objects allocated at shared sites (undici's) to the old space for every
 * variant (docs/performance.md, "One process per window").
 */
export function windowInChild(
  script: string,
  spec: object,
  args: string[],
  env: Record<string, string> = {},
): Sample {
  const out = execFileSync(
    process.execPath,
    [...process.execArgv, script, '--child', JSON.stringify(spec), ...args],
    { encoding: 'utf8', env: { ...process.env, ...env } },
  )
  return JSON.parse(out) as Sample
}

/** The child's side of {@link windowInChild}: warm-up, one window, its sample to stdout. */
export async function runChildWindow(
  made: { send: Send; close: () => Promise<void> | void },
  url: string,
  inFlight: number,
  warmupMs: number,
  windowMs: number,
): Promise<void> {
  // Warm-up: the optimizing compiler settles and connections are opened (the fetch variants
  // take about 3 s to reach their steady cost a call).
  await runWindow(made.send, url, inFlight, warmupMs)
  const sample = await runWindow(made.send, url, inFlight, windowMs)
  await made.close()
  console.log(JSON.stringify(sample))
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

export const fmt = (x: number, digits = 2): string => x.toFixed(digits)

/** One variant's windows against the baseline's windows of the same rounds. */
export interface Compared {
  /** Successful calls per second, median over rounds. */
  rps: number
  /** Median of the per-round throughput ratios to the baseline, and their range. */
  ratio: number
  ratioMin: number
  ratioMax: number
  cpuUsPerReq: number
  /** Median per-round ratio of CPU per successful call to the baseline's: below 1 is cheaper. */
  cpuRatio: number
  p50: number
  p99: number
  p99Ratio: number
  success: number
}

export function compareToBaseline(list: Sample[], bare: Sample[]): Compared {
  const per = (f: (s: Sample, b: Sample) => number) => list.map((s, i) => f(s, bare[i] as Sample))
  const ratios = per((s, b) => s.rps / b.rps)
  return {
    rps: median(list.map((s) => s.rps)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
    cpuUsPerReq: median(list.map((s) => s.cpuUsPerReq)),
    cpuRatio: median(per((s, b) => s.cpuUsPerReq / b.cpuUsPerReq)),
    p50: median(list.map((s) => s.p50)),
    p99: median(list.map((s) => s.p99)),
    p99Ratio: median(per((s, b) => s.p99 / b.p99)),
    success: median(list.map((s) => s.success)),
  }
}

/**
 * The dispatcher Node's global fetch uses after `setGlobalDispatcher(dispatcher)`: undici wraps
 * it for the older handler API of the undici bundled with Node. Passed per call, so that a bare
 * and a netiquette variant can run in one process.
 */
export function asGlobalFetchSees(dispatcher: Dispatcher): Dispatcher {
  const previous = getGlobalDispatcher()
  setGlobalDispatcher(dispatcher)
  const seen = (globalThis as unknown as Record<symbol, Dispatcher>)[
    Symbol.for('undici.globalDispatcher.1')
  ] as Dispatcher
  setGlobalDispatcher(previous)
  return seen
}

export interface Origin {
  url: string
  kind: string
  stop: () => void
  /** With `h2`: the PEM certificate to trust. */
  ca?: string
}

/**
 * bench/server.ts in its own process (see there for its routes); with `h2`, over HTTP/2 and TLS
 * on a generated certificate.
 */
export async function startNodeServer(pinned: boolean, h2 = false): Promise<Origin> {
  const serverPath = fileURLToPath(new URL('./server.ts', import.meta.url))
  const args = h2 ? [serverPath, '--h2'] : [serverPath]
  const [command, argv] = pinned
    ? ['taskset', ['-c', '1', process.execPath, ...args]]
    : [process.execPath, args]
  const child = spawn(command as string, argv as string[], { stdio: ['pipe', 'pipe', 'inherit'] })
  // The first line is the port; with h2 the certificate follows, base64 on one line.
  let out = ''
  while (!out.includes('\n') || (h2 && out.split('\n').length < 3)) {
    const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
    out += String(chunk)
  }
  const [port, ca] = out.split('\n')
  return {
    url: `${h2 ? 'https' : 'http'}://127.0.0.1:${(port as string).trim()}`,
    kind: h2 ? 'node:http2' : 'node:http',
    stop: () => stopChild(child),
    ...(h2 ? { ca: Buffer.from(ca as string, 'base64').toString() } : {}),
  }
}

/**
 * nginx answering every path with a 12-byte 200, one worker; `undefined` when nginx is not
 * installed (`apt-get install nginx-light`).
 */
export async function startNginx(pinned: boolean): Promise<Origin | undefined> {
  if (!hasCommand('nginx')) return undefined
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'netiquette-bench-'))
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `${t}_temp_path ${dir};`)
    .join(' ')
  writeFileSync(
    join(dir, 'nginx.conf'),
    `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000; keepalive_timeout 600s; ${temp}
  server { listen 127.0.0.1:${port};
    location / { default_type text/plain; return 200 'hello world!'; } } }`,
  )
  const nginxArgs = ['-c', join(dir, 'nginx.conf'), '-p', dir]
  const child = pinned
    ? spawn('taskset', ['-c', '1', 'nginx', ...nginxArgs], { stdio: 'ignore' })
    : spawn('nginx', nginxArgs, { stdio: 'ignore' })
  const url = `http://127.0.0.1:${port}`
  // Wait until it answers (bounded): nginx gives no readiness signal on stdout.
  const probe = new Agent()
  for (let i = 0; ; i++) {
    try {
      await (await request(`${url}/tiny`, { dispatcher: probe })).body.text()
      break
    } catch (error) {
      if (i >= 100) throw new Error('nginx did not start', { cause: error })
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await probe.close()
  return {
    url,
    kind: 'nginx',
    stop: () => {
      stopChild(child)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function stopChild(child: ChildProcess): void {
  child.stdin?.end()
  child.kill()
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo
      probe.close(() => resolve(port))
    })
  })
}

/** Pins this process to core 0 when taskset exists and there are 2+ cores. */
export function pinSelf(): boolean {
  try {
    execFileSync('taskset', ['-p', '-c', '0', String(process.pid)], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The machine and the versions a reader needs to compare figures: printed by every bench. */
export function describeMachine(packages: string[] = []): string {
  const cpu = cpus()
  const versions = packages.map((name) => `${name} ${packageVersion(name)}`)
  const nginx = hasCommand('nginx') ? nginxVersion() : 'not installed'
  return [
    `node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
    `undici ${packageVersion('undici')}, nginx ${nginx}${versions.length > 0 ? `, ${versions.join(', ')}` : ''}`,
  ].join('\n')
}

function packageVersion(name: string): string {
  try {
    const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url))
    return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version
  } catch {
    return '?'
  }
}

function nginxVersion(): string {
  try {
    // nginx -v prints to stderr: "nginx version: nginx/1.22.1"
    const out = execFileSync('sh', ['-c', 'nginx -v 2>&1'], { encoding: 'utf8' })
    return out.trim().replace(/^nginx version: nginx\//, '')
  } catch {
    return '?'
  }
}
