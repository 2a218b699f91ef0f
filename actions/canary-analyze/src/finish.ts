// `mode: finish`, the step after the analysis. After `promote`: stable (already upgraded) gets all
// traffic back and is verified, then the canary is removed and stable must still answer. After a
// rollback: stable is verified as it serves, and the incident is recorded as a GitHub issue.
import * as core from '@actions/core';
import { addTable, escapeHtml, getContext, openIssueOnce, redact, registeredSecrets, writeSummary, type RunContext } from '@slipway/shared';
import * as canary from '@slipway/shared/canary';
import * as routing from '@slipway/shared/routing';
import type { CanaryConfig, FinishConfig } from './inputs';

interface Ending {
  ok: boolean;
  /** What the summary's heading says. */
  headline: string;
  rows: [string, string][];
  stableVerified: boolean;
  canaryRemoved: boolean;
  incidentUrl: string;
  /** The canary's percent at the end; empty when not known. */
  finalWeight: string;
}

const tick = (t: routing.WatchTick) => core.info(`  verify: ${t.detail}`);

async function finishPromotion(config: CanaryConfig, finish: FinishConfig, context: RunContext, signal: AbortSignal): Promise<Ending> {
  const record = (reason: string): routing.SwitchRecord => ({ by: context.actor || 'unknown', at: new Date().toISOString(), runUrl: context.runUrl || undefined, reason });
  const created = routing.createRouter(config.router as routing.RouterConfig);
  const ending: Ending = { ok: false, headline: '', rows: [], stableVerified: false, canaryRemoved: false, incidentUrl: '', finalWeight: '' };
  // Held until the canary is removed: another run meanwhile would route to a release going away.
  const release = created.router.claim?.(record('canary finish'));
  try {
    const moved = await canary.moveTrafficToStable(created.router, record, finish.verification, { gate: (d) => core.info(`  stable health: ${d}`), moved: () => core.info('All traffic is on stable; verifying it.'), tick }, signal);
    ending.finalWeight = String(100 - moved.stableWeight);
    ending.rows.push(['Traffic', moved.ok ? `100 % on stable${moved.alreadyMoved ? ' (moved by an earlier attempt)' : ''}` : `${moved.stableWeight} % on stable: ${moved.reason}`]);
    if (!moved.ok) return { ...ending, headline: `❌ stable not given the traffic (${moved.failedAt})`, rows: [...ending.rows, ['Canary release', 'kept: it serves the traffic']] };
    ending.stableVerified = true;
    ending.rows.push(['Stable verified', moved.reason]);
    if (signal.aborted) return { ...ending, headline: '❌ cancelled: stable serves everything, the canary was not removed' };
    try {
      const removed = await canary.removeCanary(finish.removal, finish.target);
      core.info(`Canary removal: ${removed}.`);
      ending.canaryRemoved = finish.removal !== 'keep';
      ending.rows.push(['Canary release', removed]);
    } catch (error) {
      ending.rows.push(['Canary release', `removal failed: ${(error as Error).message}`]);
      return { ...ending, headline: '❌ stable serves everything, but the canary was not removed' };
    }
  } finally {
    release?.();
    created.close();
  }
  const answers = await routing.waitHealthy({ ...finish.verification.health, successes: 3, intervalMs: 500, deadlineMs: 30_000 }, undefined, signal);
  const last = answers.probes.at(-1)?.detail ?? 'no probe';
  ending.rows.push(['Stable answers', answers.healthy ? `yes (${last})` : `no (last: ${last})`]);
  if (!answers.healthy) return { ...ending, stableVerified: false, headline: '❌ stable stopped answering after the canary was removed' };
  return { ...ending, ok: true, headline: '✅ released: stable runs the new version and serves all traffic' };
}

async function verifyAfterRollback(finish: FinishConfig, context: RunContext, signal: AbortSignal): Promise<Ending> {
  // Cancelled, the verification stops and fails; the incident is still recorded.
  const verification = await canary.verifyStable(finish.verification, tick, signal);
  const ending: Ending = {
    ok: verification.ok,
    headline: verification.ok ? `✅ stable verified after the ${finish.verdict}` : `❌ stable failed its verification after the ${finish.verdict}`,
    rows: [['Verdict', finish.verdict], ['Stable verified', verification.reason]],
    stableVerified: verification.ok,
    canaryRemoved: false,
    incidentUrl: '',
    finalWeight: '',
  };
  if (finish.incident && context.repo) {
    const api = { url: context.apiUrl, token: finish.incident.token, repo: context.repo };
    const results = finish.incident.results;
    // Registered secrets (Prometheus credentials in an error, say) never reach the issue.
    const secrets = registeredSecrets();
    // One per job of the run and canary release: reruns share it, a matrix's jobs do not.
    const key = [`${context.repo}/actions/runs/${context.runId || 'local'}`, context.job, finish.target && `${finish.target.namespace}/${finish.target.release}`].filter(Boolean).join(' ');
    try {
      const issue = await openIssueOnce(api, { key, label: finish.incident.label, title: redact(canary.incidentTitle(results, finish.verdict, context.workflow), secrets), body: redact(canary.incidentBody(results, verification, context.runUrl), secrets) });
      ending.incidentUrl = issue.url;
      ending.rows.push(['Incident', `#${issue.number} ${issue.created ? 'opened' : 'already opened by an earlier attempt of this run'}: ${issue.url}`]);
    } catch (error) {
      ending.ok = false;
      ending.rows.push(['Incident', `could not be opened: ${(error as Error).message}`]);
      ending.headline += '; the incident issue could not be opened';
    }
  }
  return ending;
}

export async function finishRelease(config: CanaryConfig): Promise<void> {
  const finish = config.finish as FinishConfig;
  const context = getContext();
  let ending: Ending | undefined;
  // The runner signals only this process on a cancel: a move not yet verified is put back, and the
  // outputs, summary and incident are still written.
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  try {
    ending = finish.verdict === 'promote' ? await finishPromotion(config, finish, context, controller.signal) : await verifyAfterRollback(finish, context, controller.signal);
  } catch (error) {
    // Putting routing back failed, or the router could not be read: said loudly, as the analysis does.
    const uncertain = routing.routingMayDiffer(error);
    ending = { ok: false, headline: uncertain ? '⚠️ routing may differ from what the router was told' : '❌ failed', rows: [['Error', (error as Error).message]], stableVerified: false, canaryRemoved: false, incidentUrl: '', finalWeight: '' };
  } finally {
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    core.setOutput('verdict', finish.verdict);
    core.setOutput('final-weight', ending?.finalWeight ?? '');
    core.setOutput('stable-verified', String(ending?.stableVerified ?? false));
    core.setOutput('canary-removed', String(ending?.canaryRemoved ?? false));
    core.setOutput('incident-url', ending?.incidentUrl ?? '');
    if (config.summary && ending) {
      core.summary.addHeading(`canary-analyze finish: ${escapeHtml(ending.headline)}`, 3);
      addTable(['', ''], ending.rows);
      await writeSummary();
    }
  }
  for (const [what, detail] of ending.rows) core.info(`${what}: ${detail}`);
  if (!ending.ok) throw new Error(`canary finish: ${ending.headline.replace(/^\S+ /, '')}: ${ending.rows.at(-1)?.[1] ?? ''}`);
}
