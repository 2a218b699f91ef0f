import * as core from '@actions/core';
import type { Gauge, Registry } from 'prom-client';
import type { RunContext } from './context';
import { requestOk } from './http';
import type { Endpoint } from './secrets/index';

export interface PushOptions {
  /** Labels that identify this series in the Pushgateway group, besides the job. */
  grouping?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * One prom-client registry per run. prom-client is loaded only when metrics are pushed, so actions
 * run without a Pushgateway don't pay for it at start-up.
 */
export class RunMetrics {
  private readonly started = performance.now();
  private registry?: Registry;
  private gauges = new Map<string, Gauge>();
  private values: { name: string; help: string; value: number; labels: Record<string, string> }[] = [];

  constructor(readonly action: string) {}

  get prefix(): string {
    return `slipway_${this.action.replace(/[^a-zA-Z0-9]/g, '_')}`;
  }

  /** Records an action-specific gauge, named `slipway_<action>_<name>`. */
  set(name: string, help: string, value: number, labels: Record<string, string> = {}): void {
    this.values.push({ name: `${this.prefix}_${name}`, help, value, labels });
  }

  /**
   * Adds the standard series and pushes everything with POST: series of the same name in the group are
   * replaced, others kept, so a failed run leaves the last success timestamp in place.
   */
  async push(gateway: Endpoint, context: RunContext, succeeded: boolean, options: PushOptions = {}): Promise<void> {
    this.set('duration_seconds', 'Wall time of the action run.', (performance.now() - this.started) / 1000);
    if (succeeded) this.set('last_success_timestamp_seconds', 'Unix time of the last successful run.', Date.now() / 1000);
    const { Registry: RegistryClass, Gauge: GaugeClass } = await import('prom-client');
    const registry = (this.registry ??= new RegistryClass());
    for (const v of this.values) {
      let gauge = this.gauges.get(v.name);
      if (!gauge) {
        gauge = new GaugeClass({ name: v.name, help: v.help, labelNames: Object.keys(v.labels), registers: [registry] });
        this.gauges.set(v.name, gauge);
      }
      gauge.set(v.labels, v.value);
    }
    const grouping = { job: this.prefix, repository: context.repo || 'local', ...options.grouping };
    await requestOk(
      {
        label: 'Pushgateway',
        url: `${gateway.url.href.replace(/\/+$/, '')}/metrics/${groupingPath(grouping)}`,
        method: 'POST',
        headers: { ...gateway.headers, 'content-type': registry.contentType },
        body: await registry.metrics(),
      },
      { retries: 2, timeoutMs: options.timeoutMs ?? 10_000 },
    );
  }
}

/**
 * `/job/<name>/<label>/<value>…`. Values go base64url-encoded with the `@base64` suffix, the
 * Pushgateway's way to carry a `/` (as in owner/repo) or an empty value in a path segment.
 */
export function groupingPath(grouping: Record<string, string>): string {
  return Object.entries(grouping)
    .map(([key, value]) => `${key}@base64/${Buffer.from(value).toString('base64url') || '='}`)
    .join('/');
}

/**
 * Pushing metrics is a side channel: a failure to push is reported as a warning, never fails the step.
 * (The gateway's URL is checked with the other inputs, before anything is done: getEndpoint.)
 */
export async function pushMetrics(
  metrics: RunMetrics,
  gateway: Endpoint | undefined,
  context: RunContext,
  succeeded: boolean,
  options?: PushOptions,
): Promise<void> {
  if (!gateway) return;
  try {
    await metrics.push(gateway, context, succeeded, options);
    core.info('Metrics pushed to the Pushgateway.');
  } catch (error) {
    core.warning(`Could not push metrics to the Pushgateway: ${error instanceof Error ? error.message : String(error)}`);
  }
}
