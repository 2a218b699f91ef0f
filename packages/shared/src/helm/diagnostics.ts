// Why a release is not healthy, for the summary: its namespace's pods that are not ready, with their
// latest events and the tail of their logs (when the cluster can give them).
import type { Kubectl } from '../routing/kubectl';

interface Pod {
  metadata: { name: string; creationTimestamp: string };
  status: { phase: string; conditions?: { type: string; status: string }[] };
}
interface Event {
  involvedObject: { kind: string; name: string };
  reason: string;
  message: string;
  lastTimestamp?: string;
  eventTime?: string;
}

export interface PodDiagnosis {
  pod: string;
  phase: string;
  events: string[];
  logs: string;
}

const ready = (pod: Pod) => pod.status.phase === 'Succeeded' || pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const when = (e: Event) => e.lastTimestamp ?? e.eventTime ?? '';

/**
 * Up to `limit` pods that are not ready, newest first, and pods with events since `since` that are gone
 * (Helm's own rollback deletes the failed revision's pods; their events stay). Never throws.
 */
export async function unhealthyPods(kubectl: Kubectl, since: Date, limit = 5): Promise<PodDiagnosis[]> {
  try {
    const pods = (JSON.parse(await kubectl.run(['get', 'pods', '-o', 'json'])) as { items: Pod[] }).items;
    const events = (JSON.parse(await kubectl.run(['get', 'events', '-o', 'json'])) as { items: Event[] }).items
      // lastTimestamp has whole seconds: a second's margin.
      .filter((e) => e.involvedObject.kind === 'Pod' && Date.parse(when(e)) >= since.getTime() - 1000)
      .sort((a, b) => when(a).localeCompare(when(b)));
    const existing = new Map(pods.map((p) => [p.metadata.name, p]));
    const gone = [...new Set(events.map((e) => e.involvedObject.name))].filter((name) => !existing.has(name));
    const unready = pods.filter((p) => !ready(p)).sort((a, b) => b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp)).map((p) => p.metadata.name);
    return Promise.all([...unready, ...gone].slice(0, limit).map(async (name) => ({
      pod: name,
      phase: existing.get(name)?.status.phase ?? '(deleted)',
      events: events.filter((e) => e.involvedObject.name === name).slice(-5).map((e) => `${e.reason}: ${e.message}`),
      logs: existing.has(name) ? await kubectl.run(['logs', name, '--all-containers', '--tail=20']).catch((error: unknown) => `(no logs: ${(error as Error).message.split('\n')[0]})`) : '',
    })));
  } catch (error) {
    return [{ pod: '(could not list pods)', phase: '', events: [(error as Error).message], logs: '' }];
  }
}
