import * as core from '@actions/core';
import { RunMetrics, checkPlatform, escapeHtml, formatDuration, getContext, pushMetrics, run, writeSummary } from '@slipway/shared';
import * as canary from '@slipway/shared/canary';
import * as routing from '@slipway/shared/routing';
import { finishRelease } from './finish';
import { readInputs } from './inputs';

run(async () => {
  checkPlatform('canary-analyze', { platforms: ['linux', 'darwin'] }); // The nginx router finds nginx's master process with `ps`; nothing here runs it on Windows.
  const config = await readInputs();
  if (config.mode === 'finish') return finishRelease(config);
  const context = getContext();
  const metrics = new RunMetrics('canary_analyze');
  const definitions = new Map(config.analysis.metrics.map((m) => [m.name, m]));
  const record = (reason: string): routing.SwitchRecord => ({ by: context.actor || 'unknown', at: new Date().toISOString(), runUrl: context.runUrl || undefined, reason });
  // A cancelled job still ends with the canary's traffic taken away.
  const controller = new AbortController();
  const cancel = () => controller.abort();
  process.once('SIGINT', cancel);
  process.once('SIGTERM', cancel);
  const created = config.router ? routing.createRouter(config.router) : undefined;
  const started = Date.now();
  let result: canary.CanaryResult | undefined;
  let release: (() => void) | undefined;
  try {
    // Held to the end of the rollback: another run's weights meanwhile would be measured as this canary's.
    release = created?.router.claim?.(record('canary run'));
    const traffic = created ? await canary.routerTraffic(created.router, record) : undefined;
    if (traffic && traffic.initialWeight > 0) core.warning(`The canary already gets ${traffic.initialWeight} % of traffic before this run; the first step sets it to ${config.progression.steps[0]} %, and a rollback sends everything to stable.`);
    const { steps, stepDurationMs, intervalMs } = config.progression;
    core.info(`${config.mode === 'analyze' ? 'Analysing' : `Steps ${steps.join(' → ')} %`} for ${formatDuration(stepDurationMs)}${config.mode === 'analyze' ? '' : ' each'}, measuring every ${formatDuration(intervalMs)}; judge: ${config.analysis.judge}; metrics: ${[...definitions.keys()].join(', ')}.`);
    if (config.analysis.judge !== 'thresholds') {
      // The judge's samples in a step: one per interval, from one query window in to the step's end.
      const samples = Math.max(1, Math.floor((stepDurationMs - Math.min(config.progression.windowMs, stepDurationMs - intervalMs)) / intervalMs) + 1);
      if (canary.smallestPValue(samples, samples) >= 1 - config.analysis.confidence) {
        core.warning(`With about ${samples} samples per side in a step, the Mann-Whitney judge cannot reach ${config.analysis.confidence * 100} % confidence and will pass every metric: make step-duration at least the query window plus 4 intervals (5 samples).`);
      }
    }
    const state = created && Number(context.runAttempt) > 1 ? await created.router.read() : undefined;
    if (state && canary.promotedEarlier(state.record, context.runUrl)) {
      result = { verdict: 'promote', outcome: 'success', reason: `an earlier attempt of this run promoted the canary (${state.record?.reason}, ${state.record?.at}); it is not analysed again`, steps: [], finalWeight: traffic?.initialWeight, rolledBack: false };
      core.info(`${result.reason}.`);
      return;
    }
    const analysis = new canary.Analysis(config.analysis, canary.prometheusSource(config.prometheus));
    result = await canary.runCanary(config.progression, analysis, traffic, {
      step: (step) => core.info(step.weight === undefined ? 'Analysis started.' : `Step: the canary gets ${step.weight} %${config.router ? '' : ' (router: none, set elsewhere)'}.`),
      tick: (tick, step) => {
        const values = tick.measurements.map((m) => {
          const definition = definitions.get(m.metric) as canary.MetricDefinition;
          const mark = m.judged ? ` ${{ success: '✓', failure: '✗ FAILED', inconclusive: '? no data', error: '! error' }[m.judged.measurement]}` : '';
          return `${m.metric} ${canary.formatValue(definition, m.canary)} (stable ${canary.formatValue(definition, m.stable)})${mark}`;
        });
        core.info(`  +${formatDuration(tick.at.getTime() - step.startedAt.getTime())}: ${values.join('; ')}`);
        for (const m of tick.measurements) if (m.judged && m.judged.measurement !== 'success') core.info(`    ${m.metric}: ${m.judged.reason}`);
      },
      judged: (judgement) => {
        core.info(`  Statistical judge: ${judgement.score.verdict}${judgement.score.score === undefined ? '' : `, score ${judgement.score.score.toFixed(0)}`}`);
        for (const m of judgement.metrics) core.info(`    ${m.name}: ${m.result.classification}: ${m.result.reason}`);
      },
    }, controller.signal);
    // A rerun of the job knows from this record not to analyse again.
    if (result.verdict === 'promote' && created && traffic) {
      const weight = result.finalWeight ?? 0;
      const [stable, canaryBackend] = created.router.backends;
      await created.router.apply({ [stable]: 100 - weight, [canaryBackend]: weight }, record(canary.PROMOTED), { requireReady: false }).catch((error: unknown) => core.warning(`The promotion could not be recorded on the router (a rerun of this job would analyse the canary again): ${(error as Error).message}`));
    }
    if (result.rollback) {
      const said = `Rollback: ${result.rollback.how}; stable: ${result.rollback.stableHealth}.`;
      if (result.rollback.stableReady === 0) core.warning(said);
      else core.info(said);
    }
  } catch (error) {
    // Taking the canary's traffic away failed (or the run could not start): the summary says so too.
    if (config.summary) {
      const uncertain = routing.routingMayDiffer(error);
      core.summary.addHeading(`canary-analyze: ${uncertain ? '⚠️ routing may differ from what the router was told' : 'failed'}`, 3);
      core.summary.addRaw(`<p>${escapeHtml((error as Error).message ?? String(error))}</p>\n`);
      if (uncertain) core.summary.addRaw('<p><strong>Check the router before anything else: the canary may still get traffic.</strong></p>\n');
      await writeSummary();
    }
    throw error;
  } finally {
    release?.();
    created?.close();
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
    const outcome = result?.outcome ?? 'error';
    core.setOutput('verdict', result?.verdict ?? 'inconclusive');
    core.setOutput('outcome', outcome);
    core.setOutput('score', result?.score === undefined ? '' : result.score.toFixed(1));
    core.setOutput('final-weight', result?.finalWeight === undefined ? '' : String(result.finalWeight));
    core.setOutput('rolled-back', String(result?.rolledBack ?? false));
    core.setOutput('results', result ? canary.resultsJson(result) : '{}');
    if (result && config.summary) {
      canary.addCanarySummary(result, config.analysis.metrics, config.analysis.rules, config.mode);
      await writeSummary();
    }
    metrics.set('verdict', 'The last verdict: 1 for the verdict label given.', 1, { verdict: result?.verdict ?? 'inconclusive', outcome });
    if (result?.score !== undefined) metrics.set('score', 'The statistical judge\'s deciding score.', result.score);
    if (result?.finalWeight !== undefined) metrics.set('final_weight', 'The canary\'s traffic percent at the end.', result.finalWeight);
    core.info(`Done in ${formatDuration(Date.now() - started)}.`);
    await pushMetrics(metrics, config.pushgateway, context, result?.verdict === 'promote');
  }
  if (result.verdict !== 'promote') {
    throw new Error(`canary ${result.verdict} (${result.outcome}): ${result.reason}${result.rolledBack ? '; the canary\'s traffic was taken away' : ''}`);
  }
  core.info(`Promote: ${result.reason}.`);
});
