import * as core from '@actions/core';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { InputError, KubeconfigFile, Timeline, addDetails, addTable, checkPlatform, createDeployment, createDeploymentStatus, exec, getContext, run, writeSummary, type GitHubApi } from '@slipway/shared';
import * as helm from '@slipway/shared/helm';
import { Kubectl } from '@slipway/shared/routing';
import { readInputs, type HelmDeployConfig } from './inputs';

/** The `helm` to run: the one on PATH, unless helm-version asks for another, installed through the tool cache. */
async function helmBinary(config: HelmDeployConfig): Promise<string> {
  if (!config.helmVersion) return 'helm';
  const onPath = await exec('helm', ['version', '--template', '{{.Version}}'], { silent: true }).then((r) => r.stdout.trim(), () => '');
  if (onPath.split('+')[0] === config.helmVersion) return 'helm';
  const archive = helm.helmArchive(config.helmVersion);
  if (!archive.pinned && !config.helmChecksum) {
    throw new InputError('helm-checksum', '', `the SHA-256 of ${archive.name} from the Helm release page, since Slipway pins only Helm ${Object.keys(helm.HELM_RELEASES).join(' and ')} (a checksum from the mirror itself proves nothing)`);
  }
  return helm.installHelm(config.helmVersion, config.helmMirror, config.helmChecksum ? { sha256: config.helmChecksum, source: 'the helm-checksum input' } : undefined, config.helmMirrorHeaders);
}

run(async () => {
  checkPlatform('helm-deploy', { platforms: ['linux', 'darwin', 'win32'] });
  const config = readInputs();
  const context = getContext();
  const timeline = new Timeline();
  const note = (event: string, detail: string) => timeline.note(event, detail);
  const outputs = { revision: '', 'previous-revision': '', status: '', 'diff-file': '', 'deployment-id': '', 'rolled-back': 'false' };
  const kubeconfig = new KubeconfigFile(config.kubeconfig);
  const helmConfig = helm.privateHelmConfig();
  const kubectl = new Kubectl({ kubeconfigFile: kubeconfig, context: config.kubeContext, namespace: config.namespace });
  let diff = '';
  let testOutput = '';
  let diagnoses: helm.PodDiagnosis[] = [];
  let api: GitHubApi | undefined;
  let failure: Error | undefined;
  let values: helm.ReleaseValues | undefined;
  try {
    values = await helm.releaseValues(config.values);
    const h = await helm.Helm.open(await helmBinary(config), { kubeconfigPath: kubeconfig.path, context: config.kubeContext, namespace: config.namespace, env: helmConfig.env }, [
      ...values.secrets,
      ...(config.chart.password ? [config.chart.password] : []),
    ]).catch((error: unknown) => {
      throw error instanceof helm.HelmNotInstalled ? new InputError('helm-version', '', `a Helm release for this step to install (e.g. \`v3.19.0\`), since ${error.message}`) : error;
    });
    note('Helm', `${h.version} (${h.major === 4 ? '--rollback-on-failure, --wait=watcher' : '--atomic, --wait'})`);

    // The cluster is reached before anything changes; a client-side dry run does not need it.
    let history: helm.HelmRevision[] = [];
    try {
      history = await h.history(config.release);
    } catch (error) {
      if (config.dryRun !== 'client') throw new Error(`cannot reach the cluster to read release ${config.release} in ${config.namespace}: ${(error as Error).message}`, { cause: error });
    }
    const previous = history.filter((r) => r.status === 'deployed').at(-1);
    // After a failed rollback no revision is deployed, yet the release exists: a failure goes back to
    // the revision found at the start, and never uninstalls the release.
    const start = previous ?? history.at(-1);
    outputs['previous-revision'] = previous ? String(previous.revision) : '';
    note('Release', start ? `${config.release} at revision ${start.revision}${previous ? '' : ` (${start.status}: no revision is deployed)`} (${start.chart}, ${start.updated})` : `${config.release} is not installed in ${config.namespace}: first install`);

    const chart = await helm.prepareChart(h, config.chart);
    const options: helm.UpgradeOptions = {
      release: config.release,
      chart,
      version: config.chartVersion,
      createNamespace: config.createNamespace,
      valuesFiles: values.files,
      set: values.set,
      literal: values.literal,
      wait: config.wait,
      timeout: config.timeout,
      rollbackOnFailure: config.rollbackOnFailure,
      historyMax: config.historyMax,
    };
    // Its values may hold secrets this run no longer has (a rotated password): masked before its manifest is read.
    if (start) helm.registerValuesSecrets(await h.values(config.release, start.revision));
    const before = start ? await h.manifest(config.release, start.revision) : '';
    const writeDiff = (after: string, label: string) => {
      if (!config.diff) return;
      diff = helm.manifestDiff(before, after, start ? `revision ${start.revision}` : '(not installed)', label);
      const file = join(process.env.RUNNER_TEMP || tmpdir(), `helm-diff-${config.release}-${Date.now()}.diff`);
      writeFileSync(file, diff);
      outputs['diff-file'] = file;
      note('Diff', diff ? `${diff.split('\n').filter((l) => /^[+-][^+-]/.test(l)).length} changed lines (${file})` : 'no change to the manifest');
    };

    if (config.dryRun) {
      writeDiff(await h.render({ ...options, dryRun: config.dryRun }), `dry run (${config.dryRun})`);
      outputs.status = 'dry-run';
      outputs.revision = outputs['previous-revision'];
      return;
    }

    if (config.github && context.repo) {
      api = { url: context.apiUrl, token: config.github.token, repo: context.repo };
      try {
        const id = await createDeployment(api, { ref: context.sha || context.ref, environment: config.github.environment, description: `helm upgrade ${config.release} (${config.namespace})`, payload: { release: config.release, namespace: config.namespace } });
        outputs['deployment-id'] = String(id);
        await createDeploymentStatus(api, id, { state: 'in_progress', logUrl: context.runUrl || undefined, environmentUrl: config.github.environmentUrl });
        note('GitHub Deployment', `${id} for ${config.github.environment}: in progress`);
      } catch (error) {
        core.warning(`Could not record a GitHub Deployment (the deploy goes on): ${(error as Error).message}`);
      }
    }

    /** The release as Helm left it, into the outputs. */
    const settle = async () => {
      const last = (await h.history(config.release)).at(-1);
      outputs.revision = last ? String(last.revision) : '';
      outputs.status = last?.status ?? 'uninstalled';
      return last;
    };
    /** A failed step after the upgrade: back to the revision found at the start, or no release after a first install. */
    const rollBack = async (why: string) => {
      diagnoses = await helm.unhealthyPods(kubectl, new Date(timeline.started));
      if (!config.rollbackOnFailure) throw new Error(`${why}; rollback-on-failure is off, so the release stays at revision ${outputs.revision}`);
      try {
        if (start) await h.rollback(config.release, start.revision, config.timeout);
        else await h.uninstall(config.release, config.timeout);
      } catch (error) {
        const last = await settle();
        note('Rollback failed', `${(error as Error).message.split('\n').at(-1)}; the release is at revision ${last?.revision ?? '—'} (${outputs.status})`);
        throw new Error(`${why}; the ${start ? `rollback to revision ${start.revision}` : 'removal of the failed first install'} failed too, so the release is at revision ${last?.revision ?? '—'} (${outputs.status}): ${(error as Error).message}`, { cause: error });
      }
      outputs['rolled-back'] = 'true';
      await settle();
      note('Rolled back', start ? `to revision ${start.revision}` : 'first install removed');
      throw new Error(`${why}; ${start ? `rolled back to revision ${start.revision}` : 'the failed first install was removed'}`);
    };

    try {
      await h.upgrade(options);
    } catch (error) {
      diagnoses = await helm.unhealthyPods(kubectl, new Date(timeline.started));
      const last = await settle();
      // Helm's own rollback leaves a new revision described "Rollback to N"; a failed first install, none.
      const to = start && last?.revision !== start.revision ? /^Rollback to (\d+)/.exec(last?.description ?? '')?.[1] : undefined;
      const rolledBack = config.rollbackOnFailure && (start ? to !== undefined : last === undefined);
      outputs['rolled-back'] = String(rolledBack);
      note('Upgrade failed', `${(error as Error).message.split('\n').at(-1)}${rolledBack ? (start ? `; Helm rolled back to revision ${to}` : '; Helm removed the failed first install') : ''}`);
      throw new Error(`helm upgrade of ${config.release} failed${rolledBack ? (start ? ` and was rolled back to revision ${to}` : '; the failed first install was removed') : ''}: ${(error as Error).message}`, { cause: error });
    }
    const deployed = await settle();
    note('Upgraded', `${config.release} to revision ${deployed?.revision} (${deployed?.chart})`);
    const manifest = await h.manifest(config.release);
    writeDiff(manifest, `revision ${deployed?.revision}`);

    if (config.verifyRollout) {
      for (const w of helm.workloads(manifest, config.namespace)) {
        try {
          await kubectl.run(['rollout', 'status', `${w.kind}/${w.name}`, `--namespace=${w.namespace}`, `--timeout=${config.timeout}`]);
          note('Rollout', `${w.kind}/${w.name} rolled out`);
        } catch (error) {
          await rollBack(`${w.kind}/${w.name} did not roll out: ${(error as Error).message}`);
        }
      }
    }
    if (config.helmTest) {
      let passed = false;
      try {
        testOutput = await h.test(config.release, config.timeout);
        passed = true;
      } catch (error) {
        testOutput = error instanceof helm.HelmError ? `${error.stdout}${error.stderr}` : (error as Error).message;
      }
      // The test pods' logs, when the cluster can give them, for the summary.
      for (const pod of helm.testPods(testOutput)) {
        testOutput += `\n--- logs of ${pod} ---\n${await kubectl.run(['logs', pod, '--all-containers', '--tail=50']).catch((error: unknown) => `(no logs: ${(error as Error).message.split('\n')[0]})`)}`;
      }
      if (passed) note('helm test', 'passed');
      else await rollBack(`helm test failed: ${testOutput.split('\n').find((l) => /^Error:/.test(l)) ?? 'a test pod failed'}`);
    }
  } catch (error) {
    failure = error as Error;
    throw error;
  } finally {
    values?.remove();
    kubectl.close();
    kubeconfig.remove();
    helmConfig.remove();
    core.setOutput('revision', outputs.revision);
    core.setOutput('previous-revision', outputs['previous-revision']);
    core.setOutput('status', outputs.status);
    core.setOutput('diff-file', outputs['diff-file']);
    core.setOutput('deployment-id', outputs['deployment-id']);
    core.setOutput('rolled-back', outputs['rolled-back']);
    if (api && outputs['deployment-id']) {
      await createDeploymentStatus(api, Number(outputs['deployment-id']), { state: failure ? 'failure' : 'success', logUrl: context.runUrl || undefined, environmentUrl: config.github?.environmentUrl, description: failure ? failure.message : `revision ${outputs.revision} deployed` })
        .then(() => note('GitHub Deployment', `${outputs['deployment-id']}: ${failure ? 'failure' : 'success'}`))
        .catch((error: unknown) => core.warning(`Could not update the GitHub Deployment: ${(error as Error).message}`));
    }
    if (config.summary) {
      core.summary.addHeading(`helm-deploy: ${config.release} (${config.namespace})${config.dryRun ? `, dry run (${config.dryRun})` : ''}`, 3);
      addTable(['', ''], [
        ['Result', failure ? `failed: ${failure.message}` : config.dryRun ? 'nothing changed (dry run)' : 'deployed'],
        ['Revision', outputs.revision || '—'],
        ['Previous revision', outputs['previous-revision'] || '— (first install)'],
        ['Status', outputs.status || '—'],
        ['Rolled back', outputs['rolled-back']],
        ...(outputs['deployment-id'] ? [['GitHub Deployment', `${outputs['deployment-id']} (${config.github?.environment})`]] : []),
      ]);
      timeline.addToSummary();
      if (config.diff) {
        core.summary.addHeading('Manifest diff', 4);
        if (diff) core.summary.addRaw(`\n\n\`\`\`diff\n${diff.replace(/```/g, "'''")}\n\`\`\`\n\n`);
        else core.summary.addRaw('<p>No change to the manifest.</p>\n');
      }
      if (testOutput) addDetails('helm test', testOutput);
      if (diagnoses.length) {
        core.summary.addHeading('Pods that were not ready', 4);
        addTable(['Pod', 'Phase', 'Events', 'Logs (tail)'], diagnoses.map((d) => [d.pod, d.phase, d.events.join('\n') || '—', d.logs || '—']));
      }
      await writeSummary();
    }
  }
});
