import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './free-port.ts'

// Debian's nginx (`.ci/run` installs it); /usr/sbin is not on every user's PATH.
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx'

/** Whether nginx is on this machine. */
export const haveNginx = spawnSync(NGINX, ['-v']).status === 0

/** A real nginx of the test's own, on a free loopback port, proxying to one upstream. */
export interface TestNginx {
  readonly url: string
  stop(): Promise<void>
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/nginx-ready', timeout: 500 }, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}

/**
 * Starts nginx as a reverse proxy in front of `upstream` (`host:port`), with keep-alive
 * connections to it, as it is usually deployed in front of a Node app.
 */
export async function startNginx(upstream: string): Promise<TestNginx> {
  const dir = await mkdtemp(join(tmpdir(), 'netiquette-nginx-'))
  const port = await freePort()
  const config = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
    server ${upstream};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`
  await writeFile(join(dir, 'nginx.conf'), config)
  const child: ChildProcess = spawn(
    NGINX,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
    { stdio: 'ignore' },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async () => {
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    await exited
    clearTimeout(timer)
    await rm(dir, { recursive: true, force: true })
  }
  // Ready when it answers (a loaded machine may take a while to start it).
  for (let i = 0; i < 200; i++) {
    if (await answers(port)) return { url: `http://127.0.0.1:${port}`, stop }
    if (child.exitCode !== null) break
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  await stop()
  throw new Error(`nginx did not answer on port ${port}`)
}
