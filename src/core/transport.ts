import type { Dispatcher } from 'undici'
import { createAttemptRecord } from './attempt.ts'
import { channels } from './events.ts'
import type { CallRequest, CallResponse, Handler } from './middleware.ts'
import { classifyError, classifyStatus, errorCode } from './outcome.ts'

/**
 * The bottom of the stack: one undici call per invocation, recorded as one attempt. Errors from
 * undici are rethrown unchanged; policies above decide what they mean.
 */
export function createTransport(dispatcher: Dispatcher): Handler {
  return async function transport(request: CallRequest): Promise<CallResponse> {
    const { clock, attempts } = request
    const start = clock.now()
    const record = createAttemptRecord(
      attempts.length + 1,
      request.method,
      request.origin,
      request.path,
      start - request.startTime,
    )
    attempts.push(record)
    if (channels.attemptStart.hasSubscribers) channels.attemptStart.publish({ attempt: record })

    const body = typeof request.body === 'function' ? request.body() : request.body
    let data: Dispatcher.ResponseData<unknown>
    try {
      data = await dispatcher.request({
        ...request.undiciOptions,
        origin: request.origin,
        path: request.path,
        method: request.method,
        headers: request.headers,
        // undici's types name fewer body kinds than it accepts (iterables work at run time).
        body: body as Dispatcher.DispatchOptions['body'],
        signal: request.signal,
      })
    } catch (error) {
      record.duration = clock.now() - start
      record.error = errorCode(error)
      record.outcome = classifyError(error, request.callerSignal?.aborted === true)
      if (channels.attemptEnd.hasSubscribers)
        channels.attemptEnd.publish({ attempt: record, error })
      throw error
    }
    record.timeToHeaders = clock.now() - start
    record.statusCode = data.statusCode
    record.outcome = classifyStatus(data.statusCode)
    if (channels.attemptEnd.hasSubscribers) channels.attemptEnd.publish({ attempt: record })
    return {
      statusCode: data.statusCode,
      statusText: data.statusText,
      headers: data.headers,
      body: data.body,
      trailers: data.trailers,
      opaque: data.opaque,
      context: data.context,
      attempts,
      attempt: record,
    }
  }
}
