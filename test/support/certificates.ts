import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A self-signed certificate (its own CA) and its key, for 127.0.0.1, made by Debian's openssl. */
export interface Certificate {
  cert: Buffer
  key: Buffer
}

export async function selfSignedCertificate(name: string): Promise<Certificate> {
  const dir = await mkdtemp(join(tmpdir(), 'nq-cert-'))
  try {
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      // Node checks an IP host against the certificate's IP SANs, not its CN.
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ])
    return {
      cert: await readFile(join(dir, 'cert.pem')),
      key: await readFile(join(dir, 'key.pem')),
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}
