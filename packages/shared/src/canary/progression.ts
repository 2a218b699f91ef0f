// A canary run: one analysis window (`analyze`), or traffic steps (`progressive`) each measured every
// interval and judged at its end. Anything but a pass takes the canary's traffic away before anything
// else happens.
import { setTimeout as wait } from 'node:timers/promises';
import type { Analysis, AnalysisStatus, Judge, Judgement, Tick } from './analysis';
import type { RollbackReport, Traffic } from './traffic';

export interface ProgressionConfig {
  /** Canary percents, in order; empty for one analysis without traffic changes. */
  steps: number[];
  stepDurationMs: number;
  intervalMs: number;
  /** The whole run ends inconclusive when it is not decided by then. */
  deadlineMs?: number;
  /** The rate window of the queries: the statistical judge starts one window into a step. */
  windowMs: number;
  judge: Judge;
  onNoData: 'inconclusive' | 'fail' | 'pass';
  /** Failed judge queries retried this many times, an interval apart. */
  consecutiveErrorLimit: number;
}

export type StepStatus = 'running' | 'passed' | Exclude<AnalysisStatus, 'running'>;

export interface StepRecord {
  /** The canary's percent; undefined in `analyze` mode. */
  weight?: number;
  startedAt: Date;
  endedAt?: Date;
  ticks: Tick[];
  judgement?: Judgement;
  status: StepStatus;
  reason?: string;
}

export type Verdict = 'promote' | 'rollback' | 'inconclusive';
export type RunOutcome = 'success' | 'failure' | 'inconclusive' | 'error';

export interface CanaryResult {
  verdict: Verdict;
  outcome: RunOutcome;
  reason: string;
  steps: StepRecord[];
  /** The deciding score of the statistical judge, when it judged. */
  score?: number;
  /** The canary's percent at the end; undefined without a router. */
  finalWeight?: number;
  rolledBack: boolean;
  /** What the rollback did and stable's health after it, when there was one. */
  rollback?: RollbackReport;
}

export interface ProgressionEvents {
  step?(step: StepRecord): void;
  tick?(tick: Tick, step: StepRecord): void;
  judged?(judgement: Judgement, step: StepRecord): void;
}

class Ended extends Error {
  constructor(
    readonly outcome: Exclude<RunOutcome, 'success'>,
    reason: string,
  ) {
    super(reason);
  }
}

const VERDICTS: Record<RunOutcome, Verdict> = { success: 'promote', failure: 'rollback', inconclusive: 'inconclusive', error: 'inconclusive' };

/** Why the analysis stopped: the latest measurement with the status it reached. */
function statusReason(tick: Tick | undefined, status: AnalysisStatus): string {
  const measurement = status === 'running' ? undefined : status;
  const m = tick?.measurements.find((x) => x.judged?.measurement === measurement);
  return m?.judged ? `${m.metric}: ${m.judged.reason}` : status;
}

export async function runCanary(config: ProgressionConfig, analysis: Analysis, traffic: Traffic | undefined, events: ProgressionEvents = {}, signal?: AbortSignal): Promise<CanaryResult> {
  const deadlineAt = config.deadlineMs === undefined ? Infinity : Date.now() + config.deadlineMs;
  const steps: StepRecord[] = [];
  let finalWeight = traffic?.initialWeight;
  let score: number | undefined;
  const pause = (ms: number) => wait(Math.max(0, ms), undefined, { signal });
  const checkDeadline = () => {
    if (Date.now() >= deadlineAt) throw new Ended('inconclusive', `the deadline passed before the canary was decided`);
  };

  const judge = async (step: StepRecord): Promise<Judgement> => {
    const end = new Date();
    const start = new Date(Math.max(step.startedAt.getTime(), Math.min(step.startedAt.getTime() + config.windowMs, end.getTime() - config.intervalMs)));
    for (let attempt = 0; ; attempt++) {
      try {
        return await analysis.judge(start, end, config.intervalMs / 1000);
      } catch (error) {
        if (attempt >= config.consecutiveErrorLimit) throw new Ended('error', `the statistical judge could not read its metrics ${attempt + 1} times: ${(error as Error).message}`);
        await pause(config.intervalMs);
      }
    }
  };

  const runStep = async (step: StepRecord) => {
    const stepEnd = step.startedAt.getTime() + config.stepDurationMs;
    // The first measurement waits a whole query window, so it sees only traffic at the step's weight.
    let next = step.startedAt.getTime() + Math.max(config.intervalMs, config.windowMs);
    while (Date.now() < stepEnd) {
      checkDeadline();
      await pause(Math.min(next, stepEnd, deadlineAt) - Date.now());
      next = Date.now() + config.intervalMs;
      checkDeadline();
      const tick = await analysis.measure();
      step.ticks.push(tick);
      events.tick?.(tick, step);
      if (analysis.status !== 'running') throw new Ended(analysis.status, statusReason(tick, analysis.status));
    }
    // At 100 % stable gets no traffic, so there is nothing left to compare it with.
    if (config.judge !== 'thresholds' && (step.weight === undefined || step.weight < 100)) {
      const judgement = await judge(step);
      step.judgement = judgement;
      events.judged?.(judgement, step);
      const { verdict, score: value } = judgement.score;
      score = value;
      const said = `score ${value?.toFixed(0)} (pass ≥ ${judgement.passScore}, marginal ≥ ${judgement.marginalScore})`;
      if (verdict === 'fail') throw new Ended('failure', `the statistical judge failed the canary: ${said}${judgement.score.criticalFailed.length ? `, critical metric ${judgement.score.criticalFailed.join(', ')} failed` : ''}`);
      if (verdict === 'marginal') throw new Ended('inconclusive', `the statistical judge found the canary marginal: ${said}`);
      if (verdict === 'nodata' && config.onNoData !== 'pass') {
        throw new Ended(config.onNoData === 'fail' ? 'failure' : 'inconclusive', `the statistical judge had no data for any metric (on-no-data: ${config.onNoData})`);
      }
    }
  };

  let ended: Ended | undefined;
  try {
    for (const weight of config.steps.length ? config.steps : [undefined]) {
      checkDeadline();
      const step: StepRecord = { weight, startedAt: new Date(), ticks: [], status: 'running' };
      steps.push(step);
      try {
        if (weight !== undefined && traffic) {
          try {
            await traffic.setWeight(weight);
          } catch (error) {
            throw new Ended('error', `could not give the canary ${weight} %: ${(error as Error).message}`);
          }
          finalWeight = weight;
        }
        events.step?.(step);
        await runStep(step);
        step.status = 'passed';
      } finally {
        step.endedAt = new Date();
      }
    }
  } catch (error) {
    ended = error instanceof Ended ? error : new Ended('error', signal?.aborted ? 'cancelled' : (error as Error).message);
    const step = steps.at(-1);
    if (step) Object.assign(step, { status: ended.outcome, reason: ended.message });
  }

  let rolledBack = false;
  let rollback: RollbackReport | undefined;
  if (ended && traffic && steps.some((s) => s.weight !== undefined)) {
    // Routing first: nothing else happens before the canary's traffic is gone.
    try {
      rollback = await traffic.rollback();
    } catch (error) {
      throw new Error(`${ended.message}; and taking the canary's traffic away failed: ${(error as Error).message}`, { cause: error });
    }
    finalWeight = 0;
    rolledBack = true;
  }
  const outcome = ended?.outcome ?? 'success';
  return { verdict: VERDICTS[outcome], outcome, reason: ended?.message ?? `passed ${steps.length === 1 && steps[0]?.weight === undefined ? 'the analysis' : `every step (${config.steps.join(' → ')} %)`}`, steps, score, finalWeight, rolledBack, rollback };
}
