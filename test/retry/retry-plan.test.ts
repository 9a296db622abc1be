import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createAttemptRecord } from '../../src/core/attempt-record.ts'
import { planRetry, type RetryPlanInput } from '../../src/retry/retry-plan.ts'
import { markIdleClose } from '../../src/core/idle-close.ts'
import { resolveRetryPolicy } from '../../src/retry/retry-options.ts'
import {
  DEFAULT_RETRY,
  InvalidOptionError,
  type CallRequest,
  type CallResponse,
  type RetryOptions,
} from '../../src/index.ts'

const NOW = 1000

interface Case {
  method?: string
  headers?: Record<string, string>
  body?: CallRequest['body']
  idempotent?: boolean
  status?: number
  responseHeaders?: Record<string, string>
  error?: { code: string }
  retries?: number
  keepAliveRetries?: number
  deadlineIn?: number
  retry?: RetryOptions
}

/** Plans after one attempt of a request described by `c`; random 0.5, 30 s left by default. */
function plan(c: Case) {
  const policy = resolveRetryPolicy('retry', c.retry ?? {}, DEFAULT_RETRY)
  if (policy === false) throw new Error('unreachable')
  const request = {
    method: c.method ?? 'GET',
    headers: c.headers ?? {},
    body: c.body,
    deadline: NOW + (c.deadlineIn ?? 30_000),
    undiciOptions: {
      dispatch: c.idempotent === undefined ? undefined : { idempotent: c.idempotent },
    },
  } as unknown as CallRequest
  const attempt = createAttemptRecord(1, request.method, 'http://o', '/', 0)
  const response =
    c.error !== undefined
      ? undefined
      : ({ statusCode: c.status ?? 503, headers: c.responseHeaders ?? {} } as CallResponse)
  const input: RetryPlanInput = {
    policy,
    request,
    attempt,
    response,
    error: c.error,
    retries: c.retries ?? 0,
    keepAliveRetries: c.keepAliveRetries ?? 0,
    previousDelay: undefined,
    now: NOW,
    wallNow: Date.UTC(2026, 0, 1),
    minAttemptTime: 10,
    random: () => 0.5,
  }
  return planRetry(input)
}

describe('what is retried', () => {
  it.each([408, 429, 500, 502, 503, 504])('status %i on a GET', (status) => {
    expect(plan({ status })).toMatchObject({ retry: true, delay: 50, delaySource: 'backoff' })
  })

  it.each([200, 301, 400, 401, 403, 404, 409, 422, 501, 505])('not status %i', (status) => {
    expect(plan({ status })).toMatchObject({
      retry: false,
      code: 'not-retryable',
      reason: `status ${status} is not retryable`,
    })
  })

  it.each(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'ETIMEDOUT', 'NQ_ATTEMPT_TIMEOUT'])(
    'error %s on a GET',
    (code) => {
      expect(plan({ error: { code } })).toMatchObject({ retry: true })
    },
  )

  it.each(['UND_ERR_BODY_TIMEOUT', 'NQ_QUEUE_FULL', 'ERR_INVALID_ARG_TYPE'])(
    'not error %s',
    (code) => {
      expect(plan({ error: { code } })).toMatchObject({ retry: false, code: 'not-retryable' })
    },
  )

  it('follows the statuses and errorCodes options', () => {
    expect(plan({ status: 409, retry: { statuses: [409] } })).toMatchObject({ retry: true })
    expect(plan({ status: 503, retry: { statuses: [409] } })).toMatchObject({ retry: false })
    expect(plan({ error: { code: 'EPIPE' }, retry: { errorCodes: ['ECONNRESET'] } })).toMatchObject(
      { retry: false },
    )
  })
})

describe('safety (RFC 9110 section 9.2.2)', () => {
  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE', 'QUERY'])(
    'retries idempotent %s after it may have reached the server',
    (method) => {
      expect(plan({ method, status: 503 })).toMatchObject({ retry: true })
      expect(plan({ method, error: { code: 'ECONNRESET' } })).toMatchObject({ retry: true })
    },
  )

  it.each(['POST', 'PATCH', 'LOCK'])('does not retry %s without a key', (method) => {
    for (const outcome of [{ status: 503 }, { error: { code: 'ECONNRESET' } }]) {
      const result = plan({ method, ...outcome })
      expect(result).toMatchObject({ retry: false, code: 'unsafe-method' })
      expect(result.reason).toContain(`${method} is not idempotent and has no Idempotency-Key`)
    }
  })

  it('retries a POST that carries an Idempotency-Key', () => {
    const result = plan({ method: 'POST', headers: { 'idempotency-key': 'k1' }, status: 503 })
    expect(result).toMatchObject({ retry: true })
    expect(result.reason).toContain('the request has an Idempotency-Key')
  })

  it.each(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN'])(
    'retries any method after %s: the request never left the client',
    (code) => {
      const result = plan({ method: 'POST', error: { code } })
      expect(result).toMatchObject({ retry: true })
      expect(result.reason).toContain('never left the client')
    },
  )

  it('does not treat EHOSTUNREACH as never sent: an established socket can report it', () => {
    expect(plan({ method: 'POST', error: { code: 'EHOSTUNREACH' } })).toMatchObject({
      retry: false,
      code: 'unsafe-method',
    })
  })

  it("honours undici's idempotent option both ways", () => {
    expect(plan({ method: 'POST', idempotent: true })).toMatchObject({ retry: true })
    expect(plan({ method: 'GET', idempotent: false })).toMatchObject({ code: 'unsafe-method' })
    expect(
      plan({ method: 'GET', idempotent: false, error: { code: 'ECONNREFUSED' } }),
    ).toMatchObject({ retry: true })
  })
})

describe('shouldRetry', () => {
  it('can widen, narrow, or keep the decision, and is told what the rules said', () => {
    const seen: unknown[] = []
    const shouldRetry: RetryOptions['shouldRetry'] = (args) => {
      seen.push([args.retry, args.retryable, args.reason])
      if (args.response?.statusCode === 409) return true
      if (args.response?.statusCode === 502) return false
      return undefined
    }
    expect(plan({ status: 409, retry: { shouldRetry } })).toMatchObject({ retry: true })
    expect(plan({ status: 502, retry: { shouldRetry } })).toMatchObject({
      retry: false,
      code: 'predicate',
      reason: 'shouldRetry declined (status 502 is retryable)',
    })
    expect(plan({ status: 503, retry: { shouldRetry } })).toMatchObject({ retry: true })
    expect(seen[0]).toEqual([1, false, 'status 409 is not retryable'])
  })

  it('cannot retry past maxRetries', () => {
    const result = plan({ status: 409, retries: 2, retry: { shouldRetry: () => true } })
    expect(result).toMatchObject({ retry: false, code: 'retries-exhausted' })
  })
})

describe('limits', () => {
  it('stops after maxRetries retries', () => {
    expect(plan({ retries: 1 })).toMatchObject({ retry: true })
    expect(plan({ retries: 2 })).toMatchObject({
      retry: false,
      code: 'retries-exhausted',
      reason: 'status 503 is retryable, but no retries are left (maxRetries: 2)',
    })
    expect(plan({ retries: 0, retry: { maxRetries: 0 } })).toMatchObject({ retry: false })
  })

  it('does not resend a one-shot body, but does resend bytes and factories', () => {
    const key = { 'idempotency-key': 'k' }
    async function* chunks() {
      yield 'a'
    }
    for (const body of [Readable.from(['a']), chunks(), new Set(['a']).values()]) {
      expect(plan({ method: 'POST', headers: key, body })).toMatchObject({
        retry: false,
        code: 'body-not-replayable',
      })
    }
    for (const body of [
      'text',
      Buffer.from('x'),
      new Uint16Array(2),
      ['a', 'b'],
      () => Readable.from(['a']),
      null,
      undefined,
    ]) {
      expect(plan({ method: 'POST', headers: key, body })).toMatchObject({ retry: true })
    }
  })
})

describe('the wait', () => {
  it('draws the backoff from the retry number', () => {
    expect(plan({ retries: 1 })).toMatchObject({ delay: 100 })
    expect(plan({ retry: { backoff: 'equal', baseDelay: 40 } })).toMatchObject({ delay: 30 })
  })

  it('takes the server hint over the backoff, cut to maxRetryAfter', () => {
    expect(plan({ responseHeaders: { 'retry-after': '2' } })).toMatchObject({
      retry: true,
      delay: 2000,
      delaySource: 'server',
      reason: 'status 503 is retryable (retry-after: 2)',
    })
    expect(
      plan({ responseHeaders: { 'retry-after': '20' }, retry: { maxRetryAfter: 5000 } }),
    ).toMatchObject({ delay: 5000 })
    expect(plan({ responseHeaders: { 'retry-after': 'soon' } })).toMatchObject({
      delay: 50,
      delaySource: 'backoff',
    })
  })

  it('does not retry when the wait and a minimal attempt do not fit in the time left', () => {
    expect(plan({ deadlineIn: 60 })).toMatchObject({ retry: true, delay: 50 })
    const result = plan({ deadlineIn: 59 })
    expect(result).toMatchObject({ retry: false, code: 'deadline' })
    expect(result).not.toHaveProperty('hint.delay')
  })

  it('reports a server hint that does not fit, uncapped, in the reason', () => {
    const result = plan({
      deadlineIn: 5000,
      responseHeaders: { 'retry-after': '120' },
    })
    expect(result).toMatchObject({
      retry: false,
      code: 'deadline',
    })
    expect(result.reason).toContain('the server asks to wait 120000 ms (retry-after: 120)')
  })

  it('lets a custom delay decide, and rejects what is not a duration', () => {
    const delay: RetryOptions['delay'] = ({ backoff, hint }) => (hint?.delay ?? backoff) * 2
    expect(plan({ retry: { delay } })).toMatchObject({ delay: 100, delaySource: 'custom' })
    expect(plan({ responseHeaders: { 'retry-after': '1' }, retry: { delay } })).toMatchObject({
      delay: 2000,
    })
    for (const bad of [NaN, -1, Infinity, '5' as unknown as number]) {
      expect(() => plan({ retry: { delay: () => bad } })).toThrow(InvalidOptionError)
    }
  })
})

describe('planRetry and the keep-alive race', () => {
  function raced(code: string): { code: string } {
    const error = Object.assign(new Error('read ECONNRESET'), { code })
    markIdleClose(error, 1_003)
    return error
  }

  it('retries a GET at once, transparently, even with no retries left', () => {
    const result = plan({ error: raced('ECONNRESET'), retries: 3, retry: { maxRetries: 3 } })
    expect(result).toMatchObject({ retry: true, delay: 0, transparent: true })
    expect(result.reason).toContain('the server closed an idle connection as it was reused')
  })

  it('retries a keyed POST the same way, and refuses an unkeyed one, saying why', () => {
    expect(
      plan({ method: 'POST', headers: { 'idempotency-key': 'k' }, error: raced('UND_ERR_SOCKET') }),
    ).toMatchObject({ retry: true, delay: 0, transparent: true })
    const refused = plan({ method: 'POST', error: raced('ECONNRESET') })
    expect(refused).toMatchObject({ retry: false, code: 'unsafe-method' })
    expect(refused.reason).toMatch(/closed an idle connection as it was reused, but POST/)
  })

  it('makes at most two free retries of keep-alive races per call', () => {
    const second = plan({ error: raced('ECONNRESET'), keepAliveRetries: 1 })
    expect(second).toMatchObject({ retry: true, delay: 0, transparent: true })
    const third = plan({ error: raced('ECONNRESET'), keepAliveRetries: 2 })
    expect(third).toMatchObject({ retry: true, transparent: false })
  })

  it('leaves an unmarked reset to the ordinary retry, with its backoff and its count', () => {
    const result = plan({ error: { code: 'ECONNRESET' } })
    expect(result).toMatchObject({ retry: true, transparent: false })
    expect(
      plan({ error: { code: 'ECONNRESET' }, retries: 3, retry: { maxRetries: 3 } }),
    ).toMatchObject({ retry: false, code: 'retries-exhausted' })
  })
})
