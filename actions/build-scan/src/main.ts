import * as core from '@actions/core';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Timeline, addTable, checkPlatform, defaultBranch, getContext, run, writeSummary } from '@slipway/shared';
import * as image from '@slipway/shared/image';
import { readInputs } from './inputs';

const SEVERITY_ORDER = new Map(image.SEVERITIES.map((s, i) => [s, i]));
/** Rows of findings in the job summary; the SARIF file and report have all of them. */
const SUMMARY_ROWS = 200;

run(async () => {
  checkPlatform('build-scan', { platforms: ['linux'], arches: ['x64', 'arm64'] }); // buildah is Linux-only, and the pinned Trivy and Grype archives are Linux x64 and arm64 builds.
  const context = getContext();
  const config = readInputs({ ...context, defaultBranch: defaultBranch() });
  const timeline = new Timeline();
  const refs = config.tags.map((t) => `${config.image}:${t}`);
  const timestamp = image.sourceDateEpoch();
  const created = timestamp === undefined ? new Date() : new Date(timestamp * 1000);
  const labels = image.ociLabels({ ref: context.ref, sha: context.sha, serverUrl: context.serverUrl, repo: context.repo, created }, config.labels);
  const outputs = { image: config.image, digest: '', tags: refs.join('\n'), labels: Object.entries(labels).map(([k, v]) => `${k}=${v}`).join('\n'), vulnerabilities: '', 'sarif-file': '', gate: '', 'sbom-file': '', 'sarif-id': '' };
  // The report, SARIF and SBOM stay here for later steps; the runner empties RUNNER_TEMP after the job.
  const work = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'slipway-build-scan-'));
  const files = new image.BuildFiles();
  const registry = new image.Registry(config.registry, config.builder, config.credentials);
  const secrets = [...config.secrets.map(([, v]) => v), ...(config.credentials ? [config.credentials.password] : [])];
  let result: image.GateResult | undefined;
  let upload: image.SarifUpload | string | undefined;
  let failure: Error | undefined;
  // Without a scan there is no gate to wait for: the builder pushes straight away.
  const scanFirst = config.push && config.scanBeforePush && config.scan !== undefined;
  // A cancelled job (the runner signals only this process: SIGINT, then SIGTERM) stops the command
  // running, pushes no further tag, still reports and removes the layout and auth file, and fails
  // the step. The handlers stay until the very end, so a second signal cannot skip the outputs.
  const controller = new AbortController();
  const cancel = (name: NodeJS.Signals) => controller.abort(new Error(`the job was cancelled (${name})`));
  process.on('SIGINT', cancel);
  process.on('SIGTERM', cancel);
  const signal = controller.signal;
  const progress: image.PushProgress = { pushed: [], signal };
  let built: image.BuiltImage | undefined;
  let targets: image.ScanTarget[] = [];
  try {
    timeline.note('Tags', refs.join(', '));
    if (scanFirst && !(await image.hasSkopeo())) {
      throw new Error('scan-before-push copies the scanned image to the registry with skopeo, byte for byte, and skopeo is not on PATH: install it (`sudo apt-get install -y skopeo`; GitHub\'s Ubuntu runners have it), or set scan-before-push: false');
    }
    if (config.push) {
      await registry.login({ skopeo: scanFirst });
      if (config.credentials) timeline.note('Login', `${config.credentials.username} at ${config.registry}`);
    }
    const spec: image.BuildSpec = { ...config, labels, cacheScope: config.image, timestamp, scanBeforePush: scanFirst };
    if (scanFirst && config.cache === 'registry') {
      core.notice(config.builder === 'buildah'
        ? `cache: registry with scan-before-push: ${config.image}-buildcache is read but not written, as buildah writes it while it builds, before the scan, where an image that fails the gate would leave its layers. Set scan-before-push: false to write it.`
        : `cache: registry with scan-before-push: ${config.image}:buildcache is read while building and written only after the gate passes.`);
    }
    built = config.builder === 'buildah' ? await image.buildWithBuildah(spec, files, registry, secrets, progress) : await image.buildWithBuildx(spec, files, secrets, signal);
    outputs.digest = built.digest;
    // The digest scanned: the pushed one, or the local layout's (which is what a scan-first push must put in the registry).
    const scanned = built.digest || built.localDigest;
    timeline.note(config.push && !scanFirst ? 'Pushed' : 'Built', `${config.builder}${config.platforms.length ? ` for ${config.platforms.join(', ')}` : ''}${scanned ? `: ${scanned}` : ` (${built.scanTarget.ref})`}, cache ${config.cache}${scanFirst ? '; pushed only if the scan passes' : ''}`);

    if (config.scan) {
      signal.throwIfAborted();
      const scan = config.scan;
      const bin = await image.installScanner({ name: scan.scanner, version: scan.version, checksum: scan.checksum, mirror: scan.mirror, mirrorHeaders: scan.mirrorHeaders });
      const cacheDir = join(process.env.RUNNER_TEMP || tmpdir(), `slipway-${scan.scanner}-cache`);
      if (scan.scans.includes('vuln')) {
        const db = await image.prepareDatabase({ scanner: scan.scanner, bin, cacheDir, repositories: scan.dbRepositories, actionsCache: true });
        timeline.note('Database', `${scan.scanner} vulnerability database from ${db.source}`);
      }
      const sbom = scan.sbom ? resolve(join(work, 'sbom.cdx.json')) : undefined;
      // Every platform that would be pushed is judged, each on its own; the gate fails if any fails.
      targets = image.scanTargets(built, config.platforms, files.file('platforms'));
      const several = targets.length > 1;
      const findings: image.Finding[] = [];
      for (const [i, t] of targets.entries()) {
        signal.throwIfAborted();
        const report = join(work, `${scan.scanner}-report${several ? `-${t.platform.replace(/[^\w.-]+/g, '-')}` : ''}.json`);
        // The registry's credentials only for a pushed image: a local layout needs none.
        const env = t.target.kind === 'registry' ? registry.scannerEnv() : {};
        // The SBOM is of the first platform (in the order of `platforms`).
        await image.scanImage({ scanner: scan.scanner, bin, cacheDir, target: t.target, scans: scan.scans, platform: t.scannerPlatform, insecure: registry.insecure, env, report, emptyIgnoreFile: join(work, 'no-ignore'), sbom: i === 0 ? sbom : undefined, secrets, signal });
        for (const f of image.parseReport(JSON.parse(readFileSync(report, 'utf8'))).findings) findings.push(several ? { ...f, platform: t.platform } : f);
      }
      if (sbom) outputs['sbom-file'] = sbom;
      const judged = image.gate(findings, { failOn: scan.failOn, ignoreUnfixed: scan.ignoreUnfixed, ignore: scan.ignore });
      result = judged;
      outputs.vulnerabilities = JSON.stringify(judged.counts);
      outputs.gate = judged.passed ? 'passed' : 'failed';
      const verdicts = several ? `; ${targets.map((t) => `${t.platform} ${judged.blocking.some((f) => f.platform === t.platform) ? 'failed' : 'passed'}`).join(', ')}` : '';
      timeline.note('Scan', `${scan.scanner} ${scan.version} (${scan.scans.join(', ')}): ${image.SEVERITIES.map((s) => `${judged.counts[s]} ${s.toLowerCase()}`).join(', ')}; ${judged.ignored.length} ignored${verdicts}`);
      for (const rule of result.expired) core.warning(`Ignore rule for ${rule.id} expired on ${rule.expires?.toISOString().slice(0, 10)} and no longer applies (${scan.ignoreFile})`);

      // SARIF has every finding the ignore file leaves, fixable or not.
      const ignored = new Set(result.ignored);
      const sarif = JSON.stringify(image.toSarif(findings.filter((f) => !ignored.has(f)), { name: scan.scanner === 'trivy' ? 'Trivy' : 'Grype', version: scan.version, informationUri: image.SCANNER_RELEASES[scan.scanner].informationUri }, scanned ? `${config.image}@${scanned}` : refs[0] ?? config.image, several ? targets.map((t) => ({ platform: t.platform, digest: t.digest === scanned ? undefined : t.digest })) : []), null, 2);
      outputs['sarif-file'] = resolve(config.sarifFile || join(work, 'build-scan.sarif'));
      writeFileSync(outputs['sarif-file'], sarif);
      if (config.uploadSarif) {
        upload = await uploadToCodeScanning(sarif, scan.scanner, config.githubToken, context);
        if (typeof upload !== 'string') outputs['sarif-id'] = upload.id;
      }
      if (!judged.passed) {
        const failing = several ? ` in ${targets.filter((t) => judged.blocking.some((f) => f.platform === t.platform)).map((t) => t.platform).join(', ')}` : '';
        throw new Error(`the image has ${judged.blocking.length} finding(s) at ${scan.failOn.join(' or ')}${failing}: ${[...new Set(judged.blocking.map((f) => f.id))].slice(0, 10).join(', ')}${judged.blocking.length > 10 ? ', …' : ''}${scanFirst ? '; nothing was pushed' : ''}`);
      }
    }
    if (scanFirst) {
      outputs.digest = await image.pushScanned(spec, built, registry, secrets, progress);
      timeline.note('Pushed', `${refs.length} tag(s) as ${outputs.digest}, the digest scanned`);
      if (config.cache === 'registry' && config.builder === 'docker') {
        await image.writeBuildxCache(spec, files, secrets, signal).catch((error: unknown) => core.warning(`The image is pushed, but its registry cache was not written: ${(error as Error).message}`));
      }
    }
    // A cancel that stopped nothing (scan: false, or during the cache write) still fails the step.
    signal.throwIfAborted();
  } catch (error) {
    failure = error as Error;
    // Tags pushed before a failure hold the digest the push checked (pushScanned() reads each back).
    if (progress.pushed.length) outputs.digest = progress.digest ?? '';
  }
  try {
    files.remove();
    core.setOutput('image', outputs.image);
    core.setOutput('digest', outputs.digest);
    core.setOutput('tags', outputs.tags);
    core.setOutput('labels', outputs.labels);
    core.setOutput('vulnerabilities', outputs.vulnerabilities);
    core.setOutput('gate', outputs.gate);
    core.setOutput('sarif-file', outputs['sarif-file']);
    core.setOutput('sarif-id', outputs['sarif-id']);
    core.setOutput('sbom-file', outputs['sbom-file']);
    if (config.summary) {
      core.summary.addHeading(`build-scan: ${config.image}`, 3);
      addTable(['', ''], [
        ['Result', failure ? `failed: ${failure.message}` : config.push ? (outputs.gate && config.scanBeforePush ? 'built, scanned, then pushed' : 'built and pushed') : 'built'],
        ['Tags', refs.join('\n')],
        ...(config.push && failure && !(scanFirst && result?.passed === false) ? [['Pushed', progress.pushed.join('\n') || 'none'], ['Not pushed', refs.filter((r) => !progress.pushed.includes(r)).join('\n') || 'none']] : []),
        ['Digest', outputs.digest || '— (not pushed)'],
        ['Builder', `${config.builder}${config.platforms.length ? ` (${config.platforms.join(', ')})` : ''}, cache ${config.cache}`],
        ...(config.scan ? [['Scan', `${config.scan.scanner} ${config.scan.version}: ${config.scan.scans.join(', ')}`], ['Gate', outputs.gate ? `${outputs.gate} (fail on ${config.scan.failOn.join(', ') || 'nothing: report only'}${config.scan.ignoreUnfixed ? ', fixable only' : ''})` : '—']] : []),
        ...(upload ? [['Code scanning', typeof upload === 'string' ? upload : `upload ${upload.id}: ${upload.status}`]] : []),
      ]);
      if (targets.length > 1 && result) addPlatforms(result, targets);
      if (result) addFindings(result, targets.length > 1);
      timeline.addToSummary();
      await writeSummary();
    }
  } finally {
    // After the outputs, so a slow `docker logout` cannot lose them.
    await registry.logout();
    process.off('SIGINT', cancel);
    process.off('SIGTERM', cancel);
  }
  const stopped = failure ?? (signal.aborted ? (signal.reason as Error) : undefined);
  if (stopped) throw stopped;
});

/** Uploads to code scanning; a repository where it is not permitted gets a warning, not a failed build. */
async function uploadToCodeScanning(sarif: string, scanner: string, token: string, context: ReturnType<typeof getContext>): Promise<image.SarifUpload | string> {
  if (!token || !context.repo || !context.sha) return 'not uploaded: no github-token or no repository context';
  try {
    const upload = await image.uploadSarif({ url: context.apiUrl, token, repo: context.repo }, { sarif, commitSha: context.sha, ref: context.ref, toolName: scanner });
    if (upload.status === 'failed') core.warning(`Code scanning could not process the SARIF upload ${upload.id}: ${upload.errors.join('; ')}`);
    return upload;
  } catch (error) {
    const message = (error as Error).message;
    core.warning(`The SARIF log was not uploaded to code scanning (it needs \`permissions: security-events: write\` and code scanning enabled for the repository): ${message}`);
    return `not uploaded: ${message.split('\n')[0]}`;
  }
}

/** One row per platform image judged: its counts and verdict. */
function addPlatforms(result: image.GateResult, targets: readonly image.ScanTarget[]): void {
  core.summary.addHeading('Platforms', 4);
  addTable(['Platform', 'Manifest', ...image.SEVERITIES, 'Gate'], targets.map((t) => {
    const mine = result.considered.filter((f) => f.platform === t.platform);
    return [t.platform, t.digest, ...image.SEVERITIES.map((s) => String(mine.filter((f) => f.severity === s).length)), result.blocking.some((f) => f.platform === t.platform) ? 'fails' : 'passes'];
  }));
}

function addFindings(result: image.GateResult, byPlatform: boolean): void {
  core.summary.addHeading('Findings', 4);
  addTable(image.SEVERITIES.map((s) => s), [image.SEVERITIES.map((s) => String(result.counts[s]))]);
  const blocking = new Set(result.blocking);
  // Failing findings first, then by severity.
  const rows = [...result.considered].sort((a, b) => Number(!blocking.has(a)) - Number(!blocking.has(b)) || (SEVERITY_ORDER.get(a.severity) ?? 9) - (SEVERITY_ORDER.get(b.severity) ?? 9));
  if (rows.length) {
    addTable(['Severity', 'ID', 'Package', 'Installed', 'Fixed in', 'Where', ...(byPlatform ? ['Platform'] : []), 'Gate'], rows.slice(0, SUMMARY_ROWS).map((f) => [f.severity, f.id, f.package || '—', f.installed || '—', f.fixed || (f.kind === 'secret' ? '—' : 'no fix yet'), f.target, ...(byPlatform ? [f.platform ?? ''] : []), blocking.has(f) ? 'fails' : '']));
  }
  if (rows.length > SUMMARY_ROWS) core.summary.addRaw(`<p>… and ${rows.length - SUMMARY_ROWS} more, in the SARIF file.</p>\n`);
  if (result.ignored.length) core.summary.addRaw(`<p>Ignored by the ignore file: ${[...new Set(result.ignored.map((f) => f.id))].join(', ')}</p>\n`);
}
