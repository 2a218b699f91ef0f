// The canary's share of traffic, set through one of the shared routers.
import { type Router, type SwitchRecord } from '../routing/types';

export interface Traffic {
  /** The canary's percent before this run. */
  readonly initialWeight: number;
  /** Gives the canary this percent; the router refuses traffic to a backend with no ready endpoints. */
  setWeight(weight: number): Promise<void>;
  /** Takes all traffic from the canary. */
  rollback(): Promise<void>;
}

/**
 * Traffic through a router whose backends are [stable, canary]. A rollback puts back the routing found
 * at the start when the canary had no traffic then (exactly, with no readiness check, so it always
 * runs); otherwise, so the canary does not keep what it had, it sends everything to stable.
 */
export async function routerTraffic(router: Router, record: (reason: string) => SwitchRecord): Promise<Traffic> {
  const [stable, canary] = router.backends;
  const before = await router.read();
  const initialWeight = before.weights[canary] ?? 0;
  const restorable = Object.keys(before.weights).length > 0 && initialWeight === 0;
  const allStable = () => router.apply({ [stable]: 100, [canary]: 0 }, record('canary rollback'));
  return {
    initialWeight,
    setWeight: async (weight) => {
      await router.apply({ [stable]: 100 - weight, [canary]: weight }, record(`canary step ${weight} %`));
    },
    rollback: async () => {
      if (restorable) await router.restore(before.snapshot, record('canary rollback'));
      else await allStable();
    },
  };
}
