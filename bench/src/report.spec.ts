import type { ContenderName } from './contender';
import { likeForLike, renderMarkdown, renderSvg, RunReport, summarizeTrials, TrialRecord } from './report';
import type { ScenarioName } from './scenarios/scenario-catalog';

function trial(scenario: ScenarioName, contender: ContenderName, round: number, throughput: number, extra: Partial<TrialRecord> = {}): TrialRecord {
  return {
    scenario,
    contender,
    round,
    order: 0,
    namePrefix: 'bench-test',
    status: 'ok',
    peakRssMb: 100,
    wallMs: 1000,
    warnings: [],
    outcome: {
      metrics: { throughput, p50Ms: 1000 / throughput, p99Ms: 2000 / throughput },
      ops: 1000,
      durationMs: 1000,
      cpuUs: throughput,
      cpuUsPerOp: throughput / 1000,
      truncated: false,
      settings: { confirms: true, noDelay: true, prefetch: null, persistent: true, notes: [] },
      notes: [],
    },
    ...extra,
  };
}

describe('summarizeTrials', () => {
  it('takes medians over rounds and the median of same-round ratios to amqplib', () => {
    const trials = [
      trial('publish', 'amqplib', 0, 100),
      trial('publish', 'amqplib', 1, 200),
      trial('publish', 'amqplib', 2, 1000),
      trial('publish', 'golevelup', 0, 50),
      trial('publish', 'golevelup', 1, 150),
      trial('publish', 'golevelup', 2, 250),
    ];
    const [ref, gl] = summarizeTrials(trials, 3, ['publish'], ['amqplib', 'golevelup']);
    expect(ref.medians.throughput).toBe(200);
    expect(ref.ratios).toEqual({});
    expect(gl.medians.throughput).toBe(150);
    // same-round ratios 0.5, 0.75, 0.25 -> median 0.5 (not 150 / 200)
    expect(gl.ratios.throughput).toBe(0.5);
    expect(gl.reference).toBe('amqplib');
  });

  it('skips rounds where either side failed, and counts failures and skips', () => {
    const trials = [
      trial('publish', 'amqplib', 0, 100),
      trial('publish', 'amqplib', 1, 100, { status: 'error', reason: 'boom', outcome: undefined }),
      trial('publish', 'nest-rmq', 0, 80),
      trial('publish', 'nest-rmq', 1, 10),
      trial('publish', 'warren', 0, 0, { status: 'skipped', reason: 'not built', outcome: undefined }),
    ];
    const rows = summarizeTrials(trials, 2, ['publish'], ['amqplib', 'warren', 'nest-rmq']);
    const nest = rows.find((r) => r.contender === 'nest-rmq')!;
    expect(nest.ratios.throughput).toBeCloseTo(0.8, 10);
    const amqplib = rows.find((r) => r.contender === 'amqplib')!;
    expect(amqplib.errors).toBe(1);
    const warren = rows.find((r) => r.contender === 'warren')!;
    expect(warren.okRounds).toBe(0);
    expect(warren.skipped).toBe(1);
    expect(warren.reasons).toEqual(['skipped: not built']);
  });

  it('compares retry + dedup consume with the same contender plain consume of the same round', () => {
    const trials = [trial('consume', 'warren', 0, 1000), trial('consume-retry-dedup', 'warren', 0, 800)];
    const row = summarizeTrials(trials, 1, ['consume', 'consume-retry-dedup'], ['warren']).find((r) => r.scenario === 'consume-retry-dedup')!;
    expect(row.ratios.throughput).toBeCloseTo(0.8, 10);
    expect(row.cpuDeltaUsPerOp).toBeCloseTo(-0.2, 10);
  });
});

describe('rendering', () => {
  const trials = [
    trial('publish', 'amqplib', 0, 100),
    trial('publish', 'warren', 0, 120),
    trial('rpc-seq', 'amqplib', 0, 100),
    trial('rpc-seq', 'warren', 0, 200, {
      outcome: { ...trial('rpc-seq', 'warren', 0, 200).outcome!, settings: { confirms: false, noDelay: true, prefetch: 50, persistent: false, notes: [] } },
    }),
  ];
  const summary = summarizeTrials(trials, 1, ['publish', 'rpc-seq'], ['amqplib', 'warren']);
  const report: RunReport = {
    meta: {
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:01:00.000Z',
      durationS: 60,
      mode: 'quick',
      rounds: 1,
      brokerUrl: 'amqp://guest:***@127.0.0.1:5672',
      node: 'v20',
      platform: 'linux',
      cpus: 2,
      cpuModel: 'test',
      versions: {},
      contenders: ['amqplib', 'warren'],
      scenarios: ['publish', 'rpc-seq'],
    },
    warren: { available: true, build: { ran: true, ok: true } },
    summary,
    trials,
    leftovers: { checked: true, found: [], deleted: 0, sharedCreated: [], sharedReused: [] },
    totals: { trials: 4, ok: 4, errors: 0, skipped: 0 },
  };

  it('marks a comparison that is not like-for-like', () => {
    expect(
      likeForLike(
        summary,
        summary.find((r) => r.scenario === 'publish' && r.contender === 'warren')!,
      ),
    ).toBe(true);
    expect(
      likeForLike(
        summary,
        summary.find((r) => r.scenario === 'rpc-seq' && r.contender === 'warren')!,
      ),
    ).toBe(false);
    expect(renderMarkdown(report)).toContain('| 5.00 (0.50×) ‡ |');
  });

  it('prints the ratio beside the median in the markdown table', () => {
    expect(renderMarkdown(report)).toContain('| publish with confirms, 100 in flight | msg/s ↑ | 100 | 120 (1.20×) |');
  });

  it('draws one bar per contender and metric, inverting latency ratios', () => {
    const svg = renderSvg(report);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('>1.20<'); // publish throughput ratio
    expect(svg).toContain('>2.00‡<'); // rpc-seq p50 0.5× latency -> 2× speed, marked
  });
});
