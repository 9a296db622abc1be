// Modelling your own fleet with the fleet simulator (docs/fleet.md): 30 instances of a service
// call an inventory server that answers 450 requests/s, at 300 calls/s in all. A deploy stops it
// for 4 s. The service's current wrapper (1 s timeout, 3 immediate retries) against netiquette
// with the same timeout. Virtual time: 40 s of it run in a few seconds. Run it with
// `node examples/fleet.ts` after `npm run build`.
import { runFleet, type FleetBehaviour } from 'netiquette/fleet'

/** Runs the example, writing what happens through `log`. Returns the lines it logged. */
export async function main(log: (line: string) => void = console.log): Promise<string[]> {
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    log(line)
  }

  const wrapper: FleetBehaviour = {
    name: 'our wrapper',
    setup: '1 s timeout per try, 3 retries at once, no budget',
    options: {
      attemptTimeout: 1_000,
      deadline: 10_000,
      retry: { maxRetries: 3, delay: () => 0, budget: false },
      breaker: false,
      throttle: false,
      concurrency: false,
    },
  }
  const netiquette: FleetBehaviour = {
    name: 'netiquette',
    setup: "the same 1 s attempt timeout, 4 s deadline, netiquette's default policies",
    options: { attemptTimeout: 1_000, deadline: 4_000 },
  }

  for (const behaviour of [wrapper, netiquette]) {
    const run = await runFleet({
      behaviour,
      clients: 30,
      rate: 300,
      server: { capacity: 450 },
      duration: 40_000,
      triggers: [{ at: 5_000, duration: 4_000, cut: 1 }],
    })
    const { end } = run
    say(
      `${behaviour.name}: ` +
        (run.recoveredAfter === null
          ? 'still down 31 s after the deploy'
          : `recovered ${run.recoveredAfter / 1000} s after the deploy`) +
        `; in the last 10 s ${end.amplification.toFixed(1)} attempts per call, ` +
        `${Math.round(end.goodputShare * 100)}% of calls succeeded, ` +
        `${Math.round(end.wastedShare * 100)}% of the server's work was for callers who had left`,
    )
  }
  return lines
}

if (import.meta.main) await main()
