// How fast the fleet simulator runs (docs/fleet.md): 10,000 clients x 60 s of virtual time at the
// paper's load (6,200 calls/s), the server's capacity cut 80% for 10 s, for each behaviour asked
// for. Prints each run's wall time, the timers it fired (events) and events per wall second.
//
//   npm run bench:fleet
//   node bench/fleet.ts --clients 10000 --behaviours paper,netiquette
import { parseArgs } from 'node:util'
import { BEHAVIOUR_NAMES, runFleet, type BehaviourName } from '../tools/fleet/index.ts'
import { describeMachine } from './harness.ts'

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '60' },
    behaviours: { type: 'string', default: 'paper,netiquette' },
    json: { type: 'boolean', default: false },
  },
})
const behaviours = args.behaviours.split(',') as BehaviourName[]
for (const name of behaviours) {
  if (!BEHAVIOUR_NAMES.includes(name)) throw new Error(`no behaviour ${name}`)
}

const rows = []
for (const behaviour of behaviours) {
  const run = await runFleet({
    behaviour,
    clients: Number(args.clients),
    duration: Number(args.seconds) * 1000,
    triggers: [{ at: 10_000, duration: 10_000, cut: 0.8 }],
  })
  rows.push({
    behaviour,
    clients: run.settings.clients,
    virtualSeconds: run.settings.duration / 1000,
    calls: run.totals.calls,
    attempts: run.totals.attempts,
    stuck: run.recoveredAfter === null,
    wallSeconds: run.wall.ms / 1000,
    events: run.wall.events,
    eventsPerSecond: run.wall.eventsPerSecond,
  })
}
if (args.json) {
  console.log(JSON.stringify({ machine: describeMachine(), rows }, null, 2))
} else {
  console.log(describeMachine())
  for (const r of rows) {
    console.log(
      `${r.behaviour.padEnd(26)} ${r.clients} clients x ${r.virtualSeconds} s: ` +
        `${r.calls.toLocaleString('en-US')} calls, ${r.attempts.toLocaleString('en-US')} attempts` +
        `${r.stuck ? ' (stuck)' : ''}; ${r.wallSeconds.toFixed(1)} s wall, ` +
        `${r.events.toLocaleString('en-US')} events, ${r.eventsPerSecond.toLocaleString('en-US')}/s`,
    )
  }
}
