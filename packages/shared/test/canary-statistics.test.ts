// Reference values from R 4.2.2's wilcox.test(x, y, conf.int = TRUE, conf.level = …) (Debian's
// r-base-core); the first case is the depression data of R's own documentation (Hollander & Wolfe),
// the two tied cases are widely published outputs of the normal approximation (W = 51.5, p = 0.5966;
// W = 0, p = 0.001364).
import { describe, expect, it } from 'vitest';
import { mannWhitney, pnorm, qnorm, rank, smallestPValue, wilcoxonDistribution, zFor } from '../src/canary/statistics';

const i = Array.from({ length: 60 }, (_, k) => k + 1);
const depression = { x: [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46], y: [1.15, 0.88, 0.9, 0.74, 1.21] };
const tied = [1, 5, 9, 24, 56, 21, 3, 7, 21, 4];

describe('Mann–Whitney against R', () => {
  it('exact, no ties (R docs): W = 35, p = 0.2544, shift 0.305 in [-0.15, 0.76]', () => {
    const r = mannWhitney(depression.x, depression.y, 0.95);
    expect(r.exact).toBe(true);
    expect(r.w).toBe(35);
    expect(r.pValue).toBeCloseTo(0.2544122544, 9);
    expect(r.estimate).toBeCloseTo(0.305, 12);
    expect(r.interval[0]).toBeCloseTo(-0.15, 12);
    expect(r.interval[1]).toBeCloseTo(0.76, 12);
  });

  it('exact at 98 % confidence', () => {
    const r = mannWhitney([0.31, 0.52, 0.47, 0.66, 0.58, 0.49, 0.71], [0.42, 0.38, 0.35, 0.51, 0.29, 0.44], 0.98);
    expect(r.w).toBe(35);
    expect(r.pValue).toBeCloseTo(0.05128205128, 9);
    expect(r.estimate).toBeCloseTo(0.14, 12);
    expect(r.interval[0]).toBeCloseTo(-0.04, 12);
    expect(r.interval[1]).toBeCloseTo(0.31, 12);
  });

  // R finds approximate bounds with uniroot(tol = 1e-4) on a step function, so it lands within 1e-4 of
  // the jump that is the exact bound; this bisects to the jump itself.
  it('normal approximation with ties and continuity correction: W = 51.5, p = 0.5966', () => {
    const r = mannWhitney(tied, [12, 15, 5, 9, 9, 14, 56, 22, 3, 7, 32, 5], 0.95);
    expect(r.exact).toBe(false);
    expect(r.w).toBe(51.5);
    expect(r.pValue).toBeCloseTo(0.5965969026, 9);
    expect(r.estimate).toBeCloseTo(-1.999992883, 4);
    expect(r.interval[0]).toBeCloseTo(-10.00005019, 3);
    expect(r.interval[1]).toBeCloseTo(11.9999776, 3);
  });

  it('normal approximation, far apart: W = 0, p = 0.001364', () => {
    const y = [1233, 4356, 987, 39999, 1111, 200000];
    const r = mannWhitney(tied, y, 0.95);
    expect(r.w).toBe(0);
    expect(r.pValue).toBeCloseTo(0.001364392954, 11);
    expect(r.interval[0]).toBeCloseTo(-39996.00003, 3);
    expect(r.interval[1]).toBeCloseTo(-1086.999955, 3);
    // z(d) = 0 on a whole interval here: R's uniroot returned -2785.25, one point of it; ours is its midpoint.
    expect(zFor(tied, y, -2785.246966)).toBe(0);
    expect(zFor(tied, y, r.estimate)).toBe(0);
  });

  it('large samples at 98 %, no ties (normal approximation)', () => {
    const x = i.map((k) => 100 + 10 * Math.sin(k * 1.7) + k / 7);
    const y = i.map((k) => 103 + 10 * Math.cos(k * 1.3) + k / 9);
    const r = mannWhitney(x, y, 0.98);
    expect(r.exact).toBe(false);
    expect(r.w).toBe(1542);
    expect(r.pValue).toBeCloseTo(0.1765274792, 9);
    expect(Math.abs(r.interval[0] - -5.152281673)).toBeLessThan(1e-4);
    expect(Math.abs(r.interval[1] - 1.570044034)).toBeLessThan(1e-4);
    expect(zFor(x, y, -1.847557366)).toBe(0);
    expect(zFor(x, y, r.estimate)).toBe(0);
  });

  it('refuses an empty sample, which callers report as no data', () => {
    expect(() => mannWhitney([], [1, 2])).toThrow(/both samples/);
  });
});

describe('building blocks', () => {
  it('normal distribution and quantile match R', () => {
    expect(pnorm(-1.5)).toBeCloseTo(0.0668072012688581, 14);
    expect(pnorm(3.2)).toBeCloseTo(0.999312862062084, 14);
    expect(qnorm(0.99)).toBeCloseTo(2.32634787404084, 12);
    expect(qnorm(0.001)).toBeCloseTo(-3.09023230616781, 12);
  });

  it('mid-ranks ties and counts their groups', () => {
    expect(rank([10, 20, 10, 30, 20, 20])).toEqual({ ranks: [1.5, 4, 1.5, 6, 4, 4], ties: [2, 3, 1] });
  });

  it("W's null distribution sums to 1 and is symmetric (dwilcox)", () => {
    const d = wilcoxonDistribution(4, 6);
    expect(d).toHaveLength(25);
    expect(d.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let w = 0; w < d.length; w++) expect(d[w]).toBeCloseTo(d[24 - w] as number, 15);
    // dwilcox(0, 4, 6) = 1 / choose(10, 4)
    expect(d[0]).toBeCloseTo(1 / 210, 15);
  });

  it('the smallest two-sided p-value is 2 / choose(m + n, m): 5 and 5 can reach 98 %, 4 and 4 cannot', () => {
    expect(smallestPValue(5, 5)).toBeCloseTo(2 / 252, 15);
    expect(smallestPValue(4, 6)).toBeCloseTo(2 / 210, 15);
    expect(smallestPValue(4, 4)).toBeCloseTo(2 / 70, 15);
    expect(smallestPValue(1, 1)).toBe(1);
    // The exact test's p-value at complete separation is that bound.
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5], 0.98).pValue).toBeCloseTo(smallestPValue(5, 5), 12);
  });
});
