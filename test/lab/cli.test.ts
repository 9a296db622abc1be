import { tmpdir } from 'node:os'
import { describe, expect, it } from 'vitest'
import { runCli, type CliIo } from '../../tools/lab/cli.ts'

function io(): CliIo & { out: string; err: string } {
  const captured = {
    out: '',
    err: '',
    stdout: { write: (text: string) => (captured.out += text) },
    stderr: { write: (text: string) => (captured.err += text) },
    cwd: '/nonexistent',
    now: () => new Date(0),
  }
  return captured
}

describe('netiquette-lab command line', () => {
  it.each([
    [
      ['--rate', 'fast'],
      '--rate: got "fast", expected a number of calls per second from 1 to 1000',
    ],
    [['--duration', '1'], '--duration: got "1", expected a number of seconds from 2 to 600'],
    [['--seed', '1.5'], '--seed: got "1.5", expected an integer from 0 to 4294967295'],
    [['--scenario', 'outage,meltdown'], '--scenario: no scenario "meltdown"'],
    [['--durations', '5'], "Unknown option '--durations'"],
    [['extra'], "Unexpected argument 'extra'"],
  ])(
    'refuses %j with exit code 2, naming the bad value, before running anything',
    async (argv, message) => {
      const captured = io()
      expect(await runCli(argv, captured)).toBe(2)
      expect(captured.err).toContain(message)
      expect(captured.err).toContain('Usage: netiquette-lab')
      expect(captured.out).toBe('')
    },
  )

  it('refuses a report path it cannot write before running anything', async () => {
    const captured = io()
    expect(await runCli(['--out', tmpdir()], captured)).toBe(2)
    expect(captured.err).toContain(`--out: cannot write ${tmpdir()}: it is a directory`)
    expect(captured.out).toBe('')
  })

  it('prints its usage for --help', async () => {
    const captured = io()
    expect(await runCli(['--help'], captured)).toBe(0)
    expect(captured.out).toContain('--scenario <names>')
    expect(captured.out).toContain(
      'outage, brownout, rate-limit, restart, connection-cap, keep-alive-race, syn-loss, overload, latency-spike, slow-body, long-tail',
    )
  })
})
