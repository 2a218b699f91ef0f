import type { AnalysisConfig } from '../../packages/shared/src/canary/analysis';
import { SEED_RULES } from '../../packages/shared/src/canary/judge';
import { builtinMetrics, requestCountQuery } from '../../packages/shared/src/canary/metrics';

/** canary-analyze's defaults over the demo service's labels, error rate and p95 only; tests change what they need. */
export function analysisConfig(overrides: Partial<AnalysisConfig> = {}): AnalysisConfig {
  const metrics = builtinMetrics();
  return {
    metrics: [metrics['error-rate'], metrics['p95-latency']],
    canarySelector: 'version="canary"',
    stableSelector: 'version="stable"',
    window: '1m',
    judge: 'both',
    rules: SEED_RULES,
    confidence: 0.98,
    passScore: 95,
    marginalScore: 75,
    limits: { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 },
    minRequests: 20,
    requestsQuery: requestCountQuery(),
    onNoData: 'inconclusive',
    ...overrides,
  };
}
