import * as core from '@actions/core';
import { InputError, Timeline, addTable, checkEndpoint, checkPlatform, contextVars, escapeHtml, formatDuration, getContext, renderTemplate, run, sleep, writeSummary } from '@slipway/shared';
import * as routing from '@slipway/shared/routing';
import { COLORS, other, probed, readInputs, type Color } from './inputs';

const allTo = (color: Color): routing.Weights => ({ [color]: 100, [other(color)]: 0 });
/** The colour getting all traffic, if one does. */
const liveColor = (weights: routing.Weights): Color | undefined => COLORS.find((c) => weights[c] === 100);

const attemptOf = (runUrl = '') => /^(.+\/actions\/runs\/\d+)(?:\/attempts\/(\d+))?$/.exec(runUrl);
/**
 * The attempt of this very run that made the last change with this reason, when it was an earlier one:
 * a re-run job (GITHUB_RUN_ATTEMPT 2…) finds its own switch or rollback done, and doing it again would
 * send traffic back to where that attempt took it from.
 */
function earlierAttempt(last: routing.SwitchRecord | undefined, reason: string, runUrl: string): number | undefined {
  const [recorded, current] = [attemptOf(last?.runUrl), attemptOf(runUrl)];
  if (last?.reason !== reason || !recorded || !current || recorded[1] !== current[1]) return undefined;
  const [was, now] = [Number(recorded[2] ?? 1), Number(current[2] ?? 1)];
  return was < now ? was : undefined;
}

run(async () => {
  checkPlatform('blue-green-switch', { platforms: ['linux', 'darwin'] }); // The nginx router finds nginx's master process with `ps`; nothing here runs it on Windows.
  const config = readInputs();
  const context = getContext();
  const timeline = new Timeline();
  const note = (event: string, detail: string) => timeline.note(event, detail);
  const record = (reason: string): routing.SwitchRecord => ({ by: context.actor || 'unknown', at: new Date().toISOString(), runUrl: context.runUrl || undefined, reason });
  const outputs = { active: '', previous: '', switched: 'false', 'rolled-back': 'false' };
  const { router, kubectl, close } = routing.createRouter(config.router);
  /** A colour Slipway scaled down comes back (and is rolled out) before traffic goes to it. */
  const ensureUp = async (color: Color) => {
    const deployment = config.deployments?.[color];
    if (!kubectl || !deployment) return;
    const replicas = await routing.scaleBackUp(kubectl, deployment, config.health?.deadlineMs ?? 120_000);
    if (replicas !== undefined) note('Scaled up', `deployment/${deployment} back to ${replicas} replicas and rolled out`);
  };
  let failure: unknown;
  let release: (() => void) | undefined;
  try {
    // Held to the end of the watch: another run's switch or rollback meanwhile would go unseen.
    if (config.action !== 'status') release = router.claim?.(record(config.action));
    const state = await router.read();
    const live = liveColor(state.weights);
    outputs.active = live ?? '';
    note('State', `${config.router.kind}: ${Object.keys(state.weights).length ? JSON.stringify(state.weights) : 'never switched'}${state.record ? `; last ${state.record.reason} by ${state.record.by} at ${state.record.at}` : ''}`);
    if (config.action === 'status') return;

    if (config.action === 'rollback') {
      if (!live) throw new Error('nothing to roll back: no colour gets all traffic now');
      const done = earlierAttempt(state.record, 'rollback', context.runUrl);
      if (done) {
        note('No change', `attempt ${done} of this run already rolled back to ${live}: a re-run does not roll back again`);
        return;
      }
      await ensureUp(other(live));
      await router.apply(allTo(other(live)), record('rollback'));
      Object.assign(outputs, { active: other(live), previous: live, switched: 'true', 'rolled-back': 'true' });
      note('Rolled back', `all traffic to ${other(live)} (was ${live})`);
      return;
    }

    const done = live && !config.target ? earlierAttempt(state.record, 'switch', context.runUrl) : undefined;
    const target = config.target ?? (live && !done ? other(live) : live);
    if (!target) throw new InputError('target', '', '`blue` or `green`: no colour gets all traffic yet, so there is no other colour to switch to');
    if (target === live) {
      note('No change', done ? `attempt ${done} of this run already switched to ${live}: a re-run does not switch back (set target to choose a colour)` : `${target} is already live`);
      return;
    }

    // Before anything changes: the watch may only start once something says the new colour serves.
    const cannotConfirm = config.watch && (router.confirmServing ? await router.cannotConfirm?.() : `${config.router.kind} reports nothing when it serves new routing`);
    if (cannotConfirm && !config.confirm) {
      throw new InputError('confirm-body', '', `text that only the new colour's answers from watch-url contain (or set confirm-header), since ${cannotConfirm}: the watch would measure the old colour`);
    }

    await ensureUp(target);
    if (config.health) {
      const health = probed(checkEndpoint('health-url', renderTemplate(config.health.url, contextVars(context, { color: target }), 'health-url'), { allowInsecure: true }));
      const gate = await routing.waitHealthy({ ...config.health, ...health }, (r, streak) => core.info(`  health ${target}: ${r.ok ? 'ok' : 'FAIL'} ${r.detail} (${r.ms} ms), ${streak}/${config.health?.successes} in a row`));
      const last = gate.probes.at(-1);
      if (!gate.healthy) {
        note('Health gate failed', `${target} at ${health.url}: last ${last?.detail}; traffic untouched`);
        throw new Error(`${target} failed its health gate (${config.health.successes} successes in a row within ${formatDuration(config.health.deadlineMs)}; last: ${last?.detail}); traffic was not switched`);
      }
      note('Health gate passed', `${target}: ${config.health.successes} successes in a row (${gate.probes.length} probes)`);
    }

    await router.apply(allTo(target), record('switch'));
    Object.assign(outputs, { active: target, previous: live ?? '', switched: 'true' });
    note('Switched', `all traffic to ${target}${live ? ` (was ${live})` : ''}`);

    /** The switch did not hold: routing goes back exactly as it was (unless told not to), and the step fails. */
    const rollBack = async (event: string, failed: string, why: string): Promise<never> => {
      note(event, why);
      if (!config.autoRollback) throw new Error(`${target} ${failed} after the switch: ${why}; auto-rollback is off, so traffic stays on ${target}`);
      // Routing first: restore exactly what was there before anything else.
      try {
        await router.restore(state.snapshot, record('automatic rollback'));
      } catch (error) {
        note('Rollback failed', (error as Error).message);
        const where = routing.routingMayDiffer(error) ? '' : `; traffic stays on ${target}`;
        throw new Error(`${target} ${failed} after the switch (${why}), and the rollback failed: ${(error as Error).message}${where}`, { cause: error });
      }
      Object.assign(outputs, { active: live ?? '', previous: target, 'rolled-back': 'true' });
      note('Rolled back', `routing restored as it was before the switch${live ? ` (all traffic to ${live})` : ''}`);
      throw new Error(`${target} ${failed} after the switch (${why}); routing was rolled back${live ? ` to ${live}` : ''}`);
    };

    if (config.watch) {
      // A watch started right after the reload or patch would measure the old colour.
      const waits: Promise<string>[] = [];
      if (!cannotConfirm && router.confirmServing) waits.push(router.confirmServing(config.confirmTimeoutMs));
      if (config.confirm && config.watch.url) {
        const body = config.confirm.body && renderTemplate(config.confirm.body, contextVars(context, { color: target }), 'confirm-body');
        waits.push(routing.confirmAnswers({ url: config.watch.url.url, headers: config.watch.url.headers, color: target, header: config.confirm.header, body: body || undefined, answers: config.confirm.answers, timeoutMs: config.watch.url.timeoutMs, deadlineMs: config.confirmTimeoutMs }));
      }
      const confirmed = await Promise.allSettled(waits);
      const refused = confirmed.flatMap((c) => (c.status === 'rejected' ? [(c.reason as Error).message] : []));
      if (refused.length) await rollBack('Not confirmed', 'was not confirmed serving', refused.join('; '));
      note('Serving', confirmed.map((c) => (c as PromiseFulfilledResult<string>).value).join('; '));

      const watched = await routing.watchAfterSwitch(config.watch, (t) => core.info(`  watch: error rate ${t.errorRate === undefined ? 'no data' : `${(t.errorRate * 100).toFixed(1)} %`} (${t.detail})`));
      if (watched.ok) note('Watch passed', `${formatDuration(config.watch.durationMs)}, ${watched.reason}`);
      else await rollBack('Watch failed', 'failed the watch', watched.reason);
    }
    if (config.scaleDownDelayMs !== undefined && config.deployments && kubectl && live) {
      const deployment = config.deployments[live];
      note('Scale-down', `${live} stays ready for ${formatDuration(config.scaleDownDelayMs)}, then deployment/${deployment} goes to 0`);
      await sleep(config.scaleDownDelayMs);
      const replicas = await routing.scaleDown(kubectl, deployment);
      note('Scaled down', `deployment/${deployment} from ${replicas} to 0 replicas (recorded for a rollback)`);
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    release?.();
    close();
    const uncertain = routing.routingMayDiffer(failure);
    // Nothing can be said of the live colour when routing may differ from its record.
    if (uncertain) outputs.active = '';
    core.setOutput('active', outputs.active);
    core.setOutput('previous', outputs.previous);
    core.setOutput('switched', outputs.switched);
    core.setOutput('rolled-back', outputs['rolled-back']);
    if (config.summary) {
      core.summary.addHeading(`blue-green-switch: ${config.action} (${config.router.kind})`, 3);
      if (uncertain) core.summary.addRaw(`<p><strong>⚠️ Routing may differ from what ${escapeHtml(config.router.kind)} was told: check it before anything else.</strong></p>\n`);
      if (failure) core.summary.addRaw(`<p>${escapeHtml((failure as Error).message ?? String(failure))}</p>\n`);
      addTable(['', ''], [['Live', outputs.active || (uncertain ? 'unknown' : 'none')], ['Previous', outputs.previous || '—'], ['Switched', outputs.switched], ['Rolled back', outputs['rolled-back']]]);
      timeline.addToSummary();
      await writeSummary();
    }
  }
});
