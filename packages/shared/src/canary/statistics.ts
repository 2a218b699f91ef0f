// The Mann–Whitney U (Wilcoxon rank-sum) test with the Hodges–Lehmann estimate and confidence
// interval of the location shift, as R's wilcox.test(x, y, conf.int = TRUE) computes them, which is
// what Kayenta's judge is built on: exact when both samples are under 50 values with no ties,
// otherwise the normal approximation with tie and continuity corrections.

export interface MannWhitneyResult {
  /** R's W: the Mann–Whitney U of x (the rank sum of x less nx(nx+1)/2). */
  w: number;
  /** Two-sided p-value for "x and y have the same location". */
  pValue: number;
  exact: boolean;
  /** Hodges–Lehmann estimate of the shift x − y. */
  estimate: number;
  /** Confidence interval of the shift at the requested level. */
  interval: [number, number];
}

/** Mid-ranks (1-based, ties share their mean rank) and the sizes of the tie groups. */
export function rank(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]?.[0] === order[i]?.[0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]?.[1] as number] = (i + j) / 2 + 1;
    ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/** The standard normal distribution function (Cody's erfc rational approximations, as in R's pnorm to ~1e-15). */
export function pnorm(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  // W. J. Cody's rational Chebyshev approximation (Numerical Recipes' erfcc is too coarse for p-values).
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.5) {
    const t = ax * ax;
    const num = (((0.18577770618460315 * t + 3.1611237438705655) * t + 113.86415415105016) * t + 377.485237685302) * t + 3209.3775891384694;
    const den = (((t + 23.601290952344122) * t + 244.02463793444417) * t + 1282.6165260773723) * t + 2844.236833439171;
    r = 1 - (ax * num) / den;
  } else if (ax < 4) {
    const num = (((((((2.1531153547440383e-8 * ax + 0.5641884969886701) * ax + 8.883149794388377) * ax + 66.11919063714163) * ax + 298.6351381974001) * ax + 881.952221241769) * ax + 1712.0476126340707) * ax + 2051.0783778260716) * ax + 1230.3393547979972;
    const den = (((((((ax + 15.744926110709835) * ax + 117.6939508913125) * ax + 537.1811018620099) * ax + 1621.3895745666903) * ax + 3290.7992357334597) * ax + 4362.619090143247) * ax + 3439.3676741437216) * ax + 1230.3393548037495;
    r = (Math.exp(-ax * ax) * num) / den;
  } else {
    const z = 1 / (ax * ax);
    const num = ((((0.016315387137302097 * z + 0.30532663496123236) * z + 0.36034489994980445) * z + 0.12578172611122926) * z + 0.016083785148742275) * z + 0.0006587491615298378;
    const den = ((((z + 2.568520192289822) * z + 1.8729528499234673) * z + 0.5279051029514285) * z + 0.06051834131244132) * z + 0.0023352049762686918;
    r = (Math.exp(-ax * ax) / ax) * (1 / Math.sqrt(Math.PI) - (z * num) / den);
  }
  return x < 0 ? 2 - r : r;
}

/** The standard normal quantile (Acklam's algorithm refined by one Halley step: ~1e-15). */
export function qnorm(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  let x: number;
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  } else if (p > 1 - 0.02425) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  } else {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
  }
  const e = pnorm(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** P(W = w) for w = 0 … m·n under the null, for samples of m and n without ties. */
export function wilcoxonDistribution(m: number, n: number): number[] {
  // ways[j][s]: subsets of size j of the ranks seen so far with rank sum s; W = s − m(m+1)/2.
  const maxSum = (m * (2 * n + m + 1)) / 2;
  let ways = Array.from({ length: m + 1 }, () => new Float64Array(maxSum + 1));
  (ways[0] as Float64Array)[0] = 1;
  for (let e = 1; e <= m + n; e++) {
    const next = ways.map((row) => row.slice());
    for (let j = 1; j <= Math.min(e, m); j++) {
      const from = ways[j - 1] as Float64Array;
      const to = next[j] as Float64Array;
      for (let s = e; s <= maxSum; s++) to[s] = (to[s] as number) + (from[s - e] as number);
    }
    ways = next;
  }
  const counts = Array.from(ways[m] as Float64Array).slice((m * (m + 1)) / 2);
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => c / total);
}

const median = (sorted: readonly number[]) => {
  const mid = sorted.length / 2;
  return sorted.length % 2 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The corrected z of W for x shifted by d, as R's wdiff (two-sided, with continuity correction). */
export function zFor(x: readonly number[], y: readonly number[], d: number): number {
  const nx = x.length;
  const ny = y.length;
  const { ranks, ties } = rank([...x.map((v) => v - d), ...y]);
  const w = ranks.slice(0, nx).reduce((a, b) => a + b, 0) - (nx * (nx + 1)) / 2;
  const dz = w - (nx * ny) / 2;
  const sigma = Math.sqrt((nx * ny / 12) * (nx + ny + 1 - ties.reduce((a, t) => a + t ** 3 - t, 0) / ((nx + ny) * (nx + ny - 1))));
  return sigma === 0 ? 0 : (dz - Math.sign(dz) * 0.5) / sigma;
}

/** The d at which zFor(d) crosses target (zFor falls as d grows), by bisection to machine precision. */
function solveShift(x: readonly number[], y: readonly number[], target: number, low: number, high: number): number {
  let lo = low;
  let hi = high;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, Math.abs(lo), Math.abs(hi)); i++) {
    const mid = (lo + hi) / 2;
    if (zFor(x, y, mid) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Two-sided Mann–Whitney test of x against y at the given confidence, with the Hodges–Lehmann
 * estimate and interval of the shift x − y. Throws on an empty sample (a caller's "no data").
 */
export function mannWhitney(x: readonly number[], y: readonly number[], confidence = 0.95): MannWhitneyResult {
  const nx = x.length;
  const ny = y.length;
  if (nx === 0 || ny === 0) throw new Error('Mann–Whitney needs values in both samples');
  const { ranks, ties } = rank([...x, ...y]);
  const w = ranks.slice(0, nx).reduce((a, b) => a + b, 0) - (nx * (nx + 1)) / 2;
  const alpha = 1 - confidence;
  const diffs = x.flatMap((a) => y.map((b) => a - b)).sort((a, b) => a - b);
  const exact = nx < 50 && ny < 50 && ties.every((t) => t === 1);

  if (exact) {
    const dist = wilcoxonDistribution(nx, ny);
    const cdf = (q: number) => dist.slice(0, Math.floor(q) + 1).reduce((a, b) => a + b, 0);
    const tail = w > (nx * ny) / 2 ? 1 - cdf(w - 1) : cdf(w);
    // qwilcox(alpha/2): the smallest q with P(W <= q) >= alpha/2.
    let qu = 0;
    while (cdf(qu) < alpha / 2) qu++;
    if (qu === 0) qu = 1;
    const ql = nx * ny - qu;
    return { w, pValue: Math.min(1, 2 * tail), exact, estimate: median(diffs), interval: [diffs[qu - 1] as number, diffs[ql] as number] };
  }

  const z = zFor(x, y, 0);
  const pValue = Math.min(1, 2 * Math.min(pnorm(z), 1 - pnorm(z)));
  const low = diffs[0] as number;
  const high = diffs[diffs.length - 1] as number;
  const zq = qnorm(1 - alpha / 2);
  // The estimating equation z(d) = 0 often holds on a whole interval (W = nx·ny/2 there); R's uniroot
  // returns an arbitrary point of it, this returns its midpoint.
  const plateau = [solveShift(x, y, 0, low, high), solveShift(x, y, -1e-9, low, high)] as const;
  return {
    w,
    pValue,
    exact,
    estimate: (plateau[0] + plateau[1]) / 2,
    interval: [solveShift(x, y, zq, low, high), solveShift(x, y, -zq, low, high)],
  };
}

/**
 * The smallest two-sided p-value the exact test can give for samples of sizes m and n (complete
 * separation, no ties): 2 / C(m + n, m). At or above 1 − confidence, the test can never be significant.
 */
export function smallestPValue(m: number, n: number): number {
  let c = 1;
  for (let i = 1; i <= Math.min(m, n); i++) c = (c * (m + n - Math.min(m, n) + i)) / i;
  return Math.min(1, 2 / c);
}
