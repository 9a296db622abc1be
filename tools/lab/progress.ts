/** Where the progress line goes: stderr, usually. */
export interface ProgressStream {
  write(text: string): unknown
  isTTY?: boolean
}

/** A status line that rewrites itself in place on a terminal. */
export interface ProgressLine {
  /** Replaces the line's text (on a terminal; elsewhere nothing, so logs stay clean). */
  update(text: string): void
  /** Erases the line, so that what is printed next starts at the left margin. */
  clear(): void
}

/** A progress line on `stream`. */
export function progressLine(stream: ProgressStream): ProgressLine {
  let shown = false
  return {
    update(text) {
      if (stream.isTTY !== true) return
      // \r back to the start, \x1b[K erases what a longer previous text left behind.
      stream.write(`\r${text}\x1b[K`)
      shown = true
    },
    clear() {
      if (!shown) return
      stream.write('\r\x1b[K')
      shown = false
    },
  }
}
