// undici's internal symbol table, imported by queued-abort.ts; it ships no types of its own.
declare module 'undici/lib/core/symbols.js' {
  const symbols: Readonly<Record<string, symbol>>
  export default symbols
}
