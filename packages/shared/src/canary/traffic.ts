// The canary's share of traffic, set through one of the shared routers.
import { type Router, type SwitchRecord } from '../routing/types';

/** What a rollback did, and whether stable, which now gets the traffic, looks able to serve it. */
export interface RollbackReport {
  /** e.g. `routing restored exactly as it was before the run`. */
  how: string;
  /** Stable's ready endpoints after the rollback; undefined when they could not be counted. */
  stableReady?: number;
  /** Stable's health in words, for the log and the summary. */
  stableHealth: string;
}

export interface Traffic {
  /** The canary's percent before this run. */
  readonly initialWeight: number;
  /** Gives the canary this percent; the router refuses traffic to a backend with no ready endpoints. */
  setWeight(weight: number): Promise<void>;
  /** Takes all traffic from the canary, never refused for stable's readiness; reports stable's health. */
  rollback(): Promise<RollbackReport>;
}

/**
 * Traffic through a router whose backends are [stable, canary]. A rollback puts back exactly the
 * routing found at the start, recorded weights or not; only when the canary already had a share then
 * does it send everything to stable instead, so a failing canary does not keep that share. Neither is
 * checked for readiness: a stable that looks unready from here served before the run, and a refused
 * rollback would leave the traffic on the failing canary.
 */
export async function routerTraffic(router: Router, record: (reason: string) => SwitchRecord): Promise<Traffic> {
  const [stable, canary] = router.backends;
  const before = await router.read();
  const initialWeight = before.weights[canary] ?? 0;
  const stableHealth = async (): Promise<Pick<RollbackReport, 'stableReady' | 'stableHealth'>> => {
    try {
      const ready = await router.readyEndpoints(stable);
      return { stableReady: ready, stableHealth: ready ? `${ready} ready endpoint${ready === 1 ? '' : 's'}` : 'no ready endpoint: stable may not be serving the traffic it got back' };
    } catch (error) {
      return { stableHealth: `unknown (${(error as Error).message})` };
    }
  };
  return {
    initialWeight,
    setWeight: async (weight) => {
      await router.apply({ [stable]: 100 - weight, [canary]: weight }, record(`canary step ${weight} %`));
    },
    rollback: async () => {
      let how: string;
      if (initialWeight === 0) {
        await router.restore(before.snapshot, record('canary rollback'));
        how = 'routing restored exactly as it was before the run';
      } else {
        await router.apply({ [stable]: 100, [canary]: 0 }, record('canary rollback'), { requireReady: false });
        how = `all traffic to stable (the canary had ${initialWeight} % before the run)`;
      }
      return { how, ...(await stableHealth()) };
    },
  };
}

/** The record a promotion leaves on the router; the finish step's record starts with `canary finished`. */
export const PROMOTED = 'canary promoted';

/**
 * Whether the router's record says an earlier attempt of this run promoted the canary (or finished
 * the release): then a rerun of the job does not analyse, and shift, the canary's traffic again.
 */
export function promotedEarlier(record: SwitchRecord | undefined, runUrl: string): boolean {
  const run = (url: string | undefined) => url?.replace(/\/attempts\/\d+$/, '');
  if (!record || !runUrl || run(record.runUrl) !== run(runUrl) || record.runUrl === runUrl) return false;
  return record.reason === PROMOTED || record.reason.startsWith('canary finished');
}
