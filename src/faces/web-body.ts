import { finished, type Readable } from 'node:stream'
import type { ReadableByteStreamController } from 'node:stream/web'
import { ResponseBody, kConsume, kResumeSource } from '../core/response-body.ts'

/** Bytes the web stream holds before it pauses the Node stream under it. */
const HIGH_WATER_MARK = 64 * 1024

/**
 * @internal A Node `Readable` of Buffers as the byte `ReadableStream` a fetch `Response` carries.
 *
 * Not `Readable.toWeb`: that adapter enqueues whatever the Node stream emits after a `cancel()`,
 * and a chunk already in flight then throws `ERR_INVALID_STATE` from a stream event, outside any
 * promise, killing the process (an SDK that cancels the body of every error response met it on
 * its first 503). Here every event after a cancel, a close or an error is dropped.
 *
 * Cancelling destroys the Node stream, which aborts the request and frees its connection.
 *
 * With the caller's `signal`, an abort after the response arrived errors the stream with the
 * signal's reason until the caller has read it to its end, as fetch does, even when every byte
 * has already arrived: the stream is closed only once its queue is empty, and the listener goes
 * with the stream's end.
 */
// Long (about 85 lines): the stream's pull, cancel and abort handlers share its state in
// closures; apart, that state would become an object every call allocates.
export function toWebBody(body: Readable, signal?: AbortSignal): ReadableStream<Uint8Array> {
  let done = false
  let ended = false
  let stopFinished: (() => void) | undefined
  let controller: ReadableByteStreamController
  // Set when the transport's chunks come straight here (the body the transport made, unread).
  let direct = false
  const onAbort = () => fail(signal?.reason as Error)
  const settle = () => {
    done = true
    signal?.removeEventListener('abort', onAbort)
  }
  const fail = (error: Error) => {
    if (done) return
    settle()
    stopFinished?.()
    controller.error(error)
  }
  // Without a signal to watch, the stream closes at once; with one, once it has been read.
  const end = () => {
    if (done) return
    ended = true
    if (signal === undefined || controller.desiredSize === HIGH_WATER_MARK) {
      settle()
      controller.close()
    }
  }
  return new ReadableStream(
    {
      type: 'bytes',
      start(c: ReadableByteStreamController) {
        controller = c
        if (signal !== undefined) {
          if (signal.aborted) {
            queueMicrotask(onAbort)
          } else signal.addEventListener('abort', onAbort, { once: true })
        }
        if (body instanceof ResponseBody) {
          direct = body[kConsume]({
            data(chunk) {
              if (done) return false
              // An empty chunk (the stream path drops them) cannot be enqueued in a byte stream.
              if (chunk.length === 0) return true
              controller.enqueue(new Uint8Array(chunk))
              return (controller.desiredSize ?? 0) > 0
            },
            end,
            error: fail,
          })
          if (direct) return
        }
        body.pause()
        body.on('data', (chunk: Buffer) => {
          if (done || ended) return
          // A copy: enqueue transfers (detaches) the buffer it is given, and a Buffer may share
          // its ArrayBuffer with other data.
          controller.enqueue(new Uint8Array(chunk))
          if ((controller.desiredSize ?? 0) <= 0) body.pause()
        })
        stopFinished = finished(body, (error) => {
          if (error === undefined || error === null) end()
          else fail(error)
        })
      },
      pull() {
        if (ended) {
          end()
          return
        }
        if (direct) (body as ResponseBody)[kResumeSource]()
        else body.resume()
      },
      cancel() {
        if (done) return
        settle()
        stopFinished?.()
        // Readers may still attach to a destroyed body's 'error'; one listener keeps it handled.
        body.on('error', noop)
        body.destroy()
      },
    },
    { highWaterMark: HIGH_WATER_MARK },
  )
}

function noop(): void {}
