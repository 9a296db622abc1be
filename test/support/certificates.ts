import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/**
 * A self-signed certificate (its own CA) and its key, made by Debian's openssl, for 127.0.0.1 or
 * the subject alternative names given (`'DNS:svc.test'`).
 */
export interface Certificate {
  cert: Buffer
  key: Buffer
}

export async function selfSignedCertificate(
  name: string,
  altNames = 'IP:127.0.0.1',
): Promise<Certificate> {
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
      `subjectAltName=${altNames}`,
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
