#!/usr/bin/env node
// The `netiquette-lab` command: `npx netiquette-lab --help`.
import { runCli } from './cli.ts'

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  },
)
