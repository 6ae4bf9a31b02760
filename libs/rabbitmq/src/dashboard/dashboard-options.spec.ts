import { InvalidOptionsError } from '../errors/invalid-options.error';
import { resolveDashboardOptions } from './dashboard-options';

describe('resolveDashboardOptions', () => {
  it('applies the defaults and normalises the path', () => {
    expect(resolveDashboardOptions()).toMatchObject({ path: '/warren', readOnly: false, pageSize: 25, previewBytes: 2048, refreshMs: 3000, maskPaths: [] });
    expect(resolveDashboardOptions({ path: 'ops/warren/' }).path).toBe('/ops/warren');
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      resolveDashboardOptions({
        path: '/bad path<',
        pageSize: 0,
        refreshMs: 100,
        maskPaths: ['a..b'],
        queues: [''],
        authGuard: {} as never,
        outbox: { held: () => Promise.resolve([]) } as never,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidOptionsError);
    expect((error as InvalidOptionsError).problems).toHaveLength(7);
    expect((error as InvalidOptionsError).problems.at(-1)).toContain('dashboard outbox must be an OutboxRelay');
  });

  it('takes an outbox as a relay instance or as the token Nest resolves it by', () => {
    const relay = { options: { table: 'warren_outbox' }, held: () => Promise.resolve([]), replay: () => Promise.resolve(0) };
    expect(resolveDashboardOptions({ outbox: relay }).outbox).toBe(relay);
    class OutboxRelay {}
    expect(resolveDashboardOptions({ outbox: OutboxRelay as never }).outbox).toBe(OutboxRelay);
    expect(resolveDashboardOptions().outbox).toBeUndefined();
  });
});
