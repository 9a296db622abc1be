// Lost SYNs on loopback, for the lab's SYN-loss scenario, bench/syn-loss.ts and the racing tests:
// an iptables rule drops a share of the SYNs to one port, as a lossy path would. Needs root.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

/** The iptables command: Debian puts it in /usr/sbin, which a non-login shell's PATH may leave out. */
export const IPTABLES = existsSync('/usr/sbin/iptables') ? '/usr/sbin/iptables' : 'iptables'

/** Which SYNs to drop: every n-th (the same ones for every run), or each with a probability. */
export type SynLoss = { every: number } | { probability: number }

let unavailable: string | undefined | null = null

/** Why SYNs cannot be dropped here (not root, no iptables), or `undefined` when they can. */
export function synDropUnavailable(): string | undefined {
  if (unavailable !== null) return unavailable
  if (process.getuid?.() !== 0) {
    unavailable = 'needs root, to drop SYNs with iptables'
    return unavailable
  }
  try {
    execFileSync(IPTABLES, ['-L', 'INPUT', '-n'], { stdio: 'ignore' })
    unavailable = undefined
  } catch {
    unavailable = 'needs iptables (apt-get install iptables), to drop SYNs'
  }
  return unavailable
}

// Rules in place, removed at exit if their owner did not: a rule left behind would go on
// dropping SYNs to that port.
const rules = new Set<string[]>()
let exitHook = false

/**
 * Adds a rule that drops SYNs to `port` (TCP, INPUT chain, so on loopback too). Returns the
 * function that removes it; rules still in place when the process exits are removed then.
 */
export function dropSyns(port: number, loss: SynLoss): () => void {
  const rule = ['INPUT', '-p', 'tcp', '--syn', '--dport', String(port), '-m', 'statistic']
  if ('every' in loss) rule.push('--mode', 'nth', '--every', String(loss.every), '--packet', '0')
  else rule.push('--mode', 'random', '--probability', String(loss.probability))
  rule.push('-j', 'DROP')
  execFileSync(IPTABLES, ['-A', ...rule])
  rules.add(rule)
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const left of rules) remove(left)
    })
  }
  return () => remove(rule)
}

function remove(rule: string[]): void {
  if (!rules.delete(rule)) return
  try {
    execFileSync(IPTABLES, ['-D', ...rule], { stdio: 'ignore' })
  } catch {
    // Removed by someone else already.
  }
}
