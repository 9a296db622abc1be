import type * as Selfsigned from 'selfsigned'
import { NetiquetteError } from '../errors.ts'

/** A certificate and key for a TLS test server, and the CA a client must trust for it. */
export interface TestCertificate {
  /** PEM private key. */
  key: string
  /** PEM certificate, valid for `localhost`, `127.0.0.1` and `::1`. */
  cert: string
  /** The CA to pass a client (`agent: { connect: { ca } }`): the certificate itself. */
  ca: string
}

let cached: Promise<TestCertificate> | undefined

/**
 * A self-signed certificate for loopback servers, generated once per process with `selfsigned`
 * (an optional peer dependency: only TLS test servers need it). An EC P-256 key: RSA 2048
 * generation takes a noticeable share of a test's time.
 */
export function testCertificate(): Promise<TestCertificate> {
  cached ??= generate().catch((error: unknown) => {
    cached = undefined
    throw error
  })
  return cached
}

async function generate(): Promise<TestCertificate> {
  let selfsigned: typeof Selfsigned
  try {
    selfsigned = await import('selfsigned')
  } catch (cause) {
    throw new NetiquetteError(
      'NQ_MISSING_PEER',
      "the fault server's `tls: true` generates a certificate with the `selfsigned` package: " +
        'install it (npm install --save-dev selfsigned), or pass `tls: { key, cert }`',
      { cause },
    )
  }
  const now = Date.now()
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    // Backdated a day, so a client whose clock runs a little behind still accepts it.
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 30 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  })
  return { key: pems.private, cert: pems.cert, ca: pems.cert }
}
