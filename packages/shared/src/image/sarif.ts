// Findings as a SARIF 2.1.0 log, as GitHub code scanning reads it: one rule per finding id, with a
// `security-severity` score GitHub maps back to critical/high/medium/low, and one result per finding.
import type { Finding, Severity } from './findings';

/** GitHub's bands: over 9 critical, 7–8.9 high, 4–6.9 medium, 0.1–3.9 low. */
const SCORE: Record<Severity, string> = { CRITICAL: '9.5', HIGH: '8.0', MEDIUM: '5.5', LOW: '2.0', UNKNOWN: '0.0' };
const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { CRITICAL: 'error', HIGH: 'error', MEDIUM: 'warning', LOW: 'note', UNKNOWN: 'note' };

export interface SarifTool {
  name: string;
  version: string;
  informationUri: string;
}

/** A platform image scanned on its own: its findings carry its `platform`. */
export interface SarifPlatform {
  platform: string;
  /** The platform's manifest digest, when known. */
  digest?: string;
}

/**
 * `image` is the reference scanned, `name@sha256:…` where the image has a digest. With `platforms`
 * (several were scanned) there is one run per platform, each with the findings of that platform.
 */
export function toSarif(findings: readonly Finding[], tool: SarifTool, image: string, platforms: readonly SarifPlatform[] = []): object {
  const digest = /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1];
  const category = `build-scan/${image.replace(/[@:][^/]*$/, '')}/`;
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: platforms.length
      ? platforms.map((p) => sarifRun(findings.filter((f) => f.platform === p.platform), tool, image, `${category}${p.platform}/`, { image, ...(digest ? { digest } : {}), platform: p.platform, ...(p.digest ? { platformDigest: p.digest } : {}) }))
      : [sarifRun(findings, tool, image, category, { image, ...(digest ? { digest } : {}) })],
  };
}

function sarifRun(findings: readonly Finding[], tool: SarifTool, image: string, category: string, properties: Record<string, string>): object {
  const rules = [...new Map(findings.map((f) => [f.id, f])).values()];
  const index = new Map(rules.map((f, i) => [f.id, i]));
  return {
    // One category per image (and platform), so code scanning keeps each one's alerts apart.
    automationDetails: { id: category },
    // Which bytes were judged: the digest that was scanned (and, when pushed, is in the registry).
    properties,
    tool: {
      driver: {
        name: tool.name,
        version: tool.version,
        informationUri: tool.informationUri,
        rules: rules.map((f) => ({
          id: f.id,
          name: f.kind === 'secret' ? 'Secret' : 'Vulnerability',
          shortDescription: { text: f.title || f.id },
          fullDescription: { text: f.title || f.id },
          ...(f.url ? { helpUri: f.url } : {}),
          help: { text: `${f.id} (${f.severity})${f.package ? ` in ${f.package} ${f.installed}` : ''}${f.fixed ? `; fixed in ${f.fixed}` : ''}${f.url ? `. ${f.url}` : ''}` },
          defaultConfiguration: { level: LEVEL[f.severity] },
          properties: { 'security-severity': SCORE[f.severity], tags: ['security', f.kind, f.severity] },
        })),
      },
    },
    results: findings.map((f) => ({
      ruleId: f.id,
      ruleIndex: index.get(f.id),
      level: LEVEL[f.severity],
      message: { text: f.kind === 'secret' ? `${f.title} in ${f.target} of ${image}${f.platform ? ` (${f.platform})` : ''}` : `${f.package} ${f.installed} has ${f.id} (${f.severity})${f.fixed ? `; fixed in ${f.fixed}` : '; no fix yet'}` },
      // Image findings have no file in the repository: code scanning needs a location, so the image is it.
      locations: [{ physicalLocation: { artifactLocation: { uri: (f.target.split(':')[0] || image).replace(/^\/+/, '') }, region: { startLine: Number(/:(\d+)$/.exec(f.target)?.[1] ?? 1) } } }],
      partialFingerprints: { 'slipway/finding': `${f.id}/${f.package}/${f.installed}/${f.target}` },
    })),
  };
}
