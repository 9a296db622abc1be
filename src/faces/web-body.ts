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
 */
export function toWebBody(body: Readable): ReadableStream<Uint8Array> {
  let done = false
  let stopFinished: (() => void) | undefined
  // Set when the transport's chunks come straight here (the body the transport made, unread).
  let direct = false
  return new ReadableStream(
    {
      type: 'bytes',
      start(controller: ReadableByteStreamController) {
        if (body instanceof ResponseBody) {
          direct = body[kConsume]({
            data(chunk) {
              if (done) return false
              // An empty chunk (the stream path drops them) cannot be enqueued in a byte stream.
              if (chunk.length === 0) return true
              controller.enqueue(new Uint8Array(chunk))
              return (controller.desiredSize ?? 0) > 0
            },
            end() {
              if (done) return
              done = true
              controller.close()
            },
          })
          if (direct) {
            body.once('error', (error: Error) => {
              if (done) return
              done = true
              controller.error(error)
            })
            return
          }
        }
        body.pause()
        body.on('data', (chunk: Buffer) => {
          if (done) return
          // A copy: enqueue transfers (detaches) the buffer it is given, and a Buffer may share
          // its ArrayBuffer with other data.
          controller.enqueue(new Uint8Array(chunk))
          if ((controller.desiredSize ?? 0) <= 0) body.pause()
        })
        stopFinished = finished(body, (error) => {
          if (done) return
          done = true
          if (error === undefined || error === null) controller.close()
          else controller.error(error)
        })
      },
      pull() {
        if (direct) (body as ResponseBody)[kResumeSource]()
        else body.resume()
      },
      cancel() {
        if (done) return
        done = true
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
