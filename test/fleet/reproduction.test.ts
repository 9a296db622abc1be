// The paper's table, reproduced: Huang et al., "Metastable Failures in the Wild" (OSDI 2022,
// §5.2). Virtual time and a fixed seed: the same answer on a loaded machine as on an idle one.
import { describe, expect, it } from 'vitest'
import { PAPER_SERVER, runFleetStudy, type PhaseDiagram } from '../../tools/fleet/index.ts'
import { largestCutSurvived, longestSurvived, PAPER_CASES } from '../../tools/fleet/fleet-study.ts'

describe("the paper's metastable failure", () => {
  it('gets stuck after 80% x 10 s at 6,200/s, and recovers from the three milder cases', async () => {
    const study = await runFleetStudy({
      scale: 0.1,
      behaviours: ['paper', 'netiquette', 'netiquette-paper-timeouts'],
      phase: false,
    })
    expect(study.paper.map((row) => row.case)).toEqual(PAPER_CASES)
    expect(study.paper.map((row) => row.stuck)).toEqual(PAPER_CASES.map((c) => c.paper.stuck))

    // The stuck state, 30 to 40 s after the trigger ended: the retries keep the server flat
    // out, every request it serves is one its client gave up on, and no call succeeds.
    const stuck = study.paper[0]?.run
    expect(stuck?.end.amplification).toBeGreaterThan(4)
    expect(stuck?.end.amplification).toBeLessThanOrEqual(5)
    expect(stuck?.end.goodputShare).toBeLessThan(0.05)
    expect(stuck?.end.wastedShare).toBeGreaterThan(0.95)
    const capacity = PAPER_SERVER.capacity * 0.1
    expect(stuck?.end.throughput).toBeGreaterThan(capacity * 0.95)
    expect(stuck?.end.throughput).toBeLessThan(capacity * 1.05)
    for (const row of study.paper.slice(1)) {
      expect(row.run.recoveredAfter).not.toBeNull()
      expect(row.run.recoveredAfter).toBeLessThanOrEqual(10_000)
    }

    // The cure: netiquette's defaults, and its policies even with the paper's timing, recover.
    for (const name of ['netiquette', 'netiquette-paper-timeouts']) {
      const row = study.cure.find((c) => c.behaviour === name)
      expect(row?.run.recoveredAfter, name).not.toBeNull()
      expect(row?.run.recoveredAfter, name).toBeLessThanOrEqual(5_000)
      expect(row?.run.end.amplification, name).toBeLessThan(1.2)
    }
  }, 180_000)

  it('draws a phase diagram: small triggers pass, large ones stick', async () => {
    const study = await runFleetStudy({
      scale: 0.1,
      behaviours: ['paper', 'netiquette'],
      // 0.8: the cut the cure table's `longest` reads.
      phase: { cuts: [0.5, 0.8], lengths: [2_000, 20_000], loads: [6_200], within: 20_000 },
    })
    const paper = study.phase.find((d) => d.behaviour === 'paper')
    const netiquette = study.phase.find((d) => d.behaviour === 'netiquette')
    expect(paper?.cells[0]?.[0]).not.toBeNull()
    expect(paper?.cells[1]?.[1]).toBeNull()
    expect(netiquette?.cells.flat().every((cell) => cell !== null)).toBe(true)
    // Every netiquette cell recovered: the longest 80% cut survived is the grid's longest; the
    // paper's client survives the short one only.
    expect(study.cure.find((c) => c.behaviour === 'netiquette')?.longest).toBe(20_000)
    expect(study.cure.find((c) => c.behaviour === 'paper')?.longest).toBe(2_000)
    expect(study.wall.runs).toBe(4 + 1 + 8)
    expect(study.wall.events).toBeGreaterThan(0)
  }, 180_000)
})

describe('reading a phase diagram', () => {
  const diagram: PhaseDiagram = {
    behaviour: 'paper',
    load: 6_200,
    cuts: [0.5, 0.8, 0.9],
    lengths: [5_000, 10_000],
    cells: [
      [0, 0],
      [0, null],
      [1_000, 0],
    ],
  }

  it('finds the largest cut survived with every smaller one too', () => {
    expect(largestCutSurvived(diagram, 5_000)).toBe(0.9)
    // 90% x 10 s recovered, but 80% x 10 s did not: the answer stops at 50%.
    expect(largestCutSurvived(diagram, 10_000)).toBe(0.5)
    expect(largestCutSurvived(diagram, 7_000)).toBeNull()
  })

  it('finds the longest trigger survived with every shorter one too', () => {
    expect(longestSurvived(diagram, 0.5)).toBe(10_000)
    expect(longestSurvived(diagram, 0.8)).toBe(5_000)
    expect(longestSurvived(diagram, 0.7)).toBeNull()
  })
})
