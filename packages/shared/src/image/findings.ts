// One findings model for Trivy and Grype JSON reports, the ignore file, and the severity gate.
import { InputError } from '../inputs';

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Finding {
  kind: 'vulnerability' | 'secret';
  /** CVE/GHSA id, or a secret rule id. */
  id: string;
  severity: Severity;
  package: string;
  installed: string;
  /** Versions that fix it; empty when none is known. */
  fixed: string;
  title: string;
  url: string;
  /** Where: an image layer target, a file path. */
  target: string;
  /** The platform image it was found in (`linux/arm64`), when several were scanned. */
  platform?: string;
}

const severity = (text: unknown): Severity => {
  const upper = String(text ?? '').toUpperCase();
  // Grype's Negligible is below Low.
  return upper === 'NEGLIGIBLE' ? 'LOW' : ((SEVERITIES as readonly string[]).includes(upper) ? (upper as Severity) : 'UNKNOWN');
};

interface TrivyReport {
  Results?: {
    Target: string;
    Vulnerabilities?: { VulnerabilityID: string; PkgName: string; InstalledVersion: string; FixedVersion?: string; Severity: string; Title?: string; PrimaryURL?: string }[];
    Secrets?: { RuleID: string; Severity: string; Title: string; StartLine?: number }[];
  }[];
}
interface GrypeReport {
  matches: { vulnerability: { id: string; severity: string; description?: string; fix?: { versions?: string[]; state?: string }; urls?: string[]; dataSource?: string }; artifact: { name: string; version: string; locations?: { path: string }[] } }[];
}

/** Findings of a Trivy (`--format json`) or Grype (`-o json`) report, told apart by their shape. */
export function parseReport(json: unknown): { scanner: 'trivy' | 'grype'; findings: Finding[] } {
  if (json && typeof json === 'object' && Array.isArray((json as GrypeReport).matches)) {
    return {
      scanner: 'grype',
      findings: (json as GrypeReport).matches.map(({ vulnerability: v, artifact: a }) => ({
        kind: 'vulnerability',
        id: v.id,
        severity: severity(v.severity),
        package: a.name,
        installed: a.version,
        fixed: v.fix?.state === 'fixed' ? (v.fix.versions ?? []).join(', ') : '',
        title: v.description?.split('\n')[0] ?? v.id,
        url: v.dataSource ?? v.urls?.[0] ?? '',
        target: a.locations?.[0]?.path ?? '',
      })),
    };
  }
  if (json && typeof json === 'object' && 'SchemaVersion' in json) {
    return {
      scanner: 'trivy',
      findings: ((json as TrivyReport).Results ?? []).flatMap((r) => [
        ...(r.Vulnerabilities ?? []).map((v): Finding => ({ kind: 'vulnerability', id: v.VulnerabilityID, severity: severity(v.Severity), package: v.PkgName, installed: v.InstalledVersion, fixed: v.FixedVersion ?? '', title: v.Title ?? v.VulnerabilityID, url: v.PrimaryURL ?? '', target: r.Target })),
        ...(r.Secrets ?? []).map((s): Finding => ({ kind: 'secret', id: s.RuleID, severity: severity(s.Severity), package: '', installed: '', fixed: '', title: s.Title, url: '', target: s.StartLine ? `${r.Target}:${s.StartLine}` : r.Target })),
      ]),
    };
  }
  throw new Error('not a Trivy (SchemaVersion, Results) or Grype (matches) JSON report');
}

export interface IgnoreRule {
  id: string;
  /** The rule stops applying after this day (Trivy's `exp:YYYY-MM-DD`). */
  expires?: Date;
}

/** A `.trivyignore`-style file: one id per line, `#` comments, optional `exp:YYYY-MM-DD`. */
export function parseIgnoreFile(input: string, text: string): IgnoreRule[] {
  return text.split(/\r?\n/).map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((line) => {
    const [id, ...rest] = line.split(/\s+/);
    const exp = rest.find((p) => p.startsWith('exp:'));
    if (rest.some((p) => !p.startsWith('exp:')) || (exp && !/^exp:\d{4}-\d{2}-\d{2}$/.test(exp))) throw new InputError(input, line, 'one finding id per line, optionally followed by `exp:YYYY-MM-DD`');
    return { id: id as string, expires: exp ? new Date(`${exp.slice(4)}T23:59:59Z`) : undefined };
  });
}

/** `CRITICAL,HIGH` style lists, checked. */
export function parseSeverities(input: string, text: string): Severity[] {
  const list = text.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = list.find((s) => !(SEVERITIES as readonly string[]).includes(s));
  if (bad || list.length === 0) throw new InputError(input, text, `severities from ${SEVERITIES.join(', ')}, comma-separated`);
  return list as Severity[];
}

export interface GateResult {
  passed: boolean;
  /** Counts by severity of what the gate looked at (after the ignore file). */
  counts: Record<Severity, number>;
  /** The findings the gate looked at: not ignored, and fixable when only those count. */
  considered: Finding[];
  /** The findings that failed the gate. */
  blocking: Finding[];
  ignored: Finding[];
  /** Ignore rules past their date, which no longer apply. */
  expired: IgnoreRule[];
}

export function gate(findings: readonly Finding[], options: { failOn: Severity[]; ignoreUnfixed: boolean; ignore: IgnoreRule[]; now?: Date }): GateResult {
  const now = options.now ?? new Date();
  const active = new Set(options.ignore.filter((r) => !r.expires || r.expires >= now).map((r) => r.id));
  const ignored = findings.filter((f) => active.has(f.id));
  const considered = findings.filter((f) => !active.has(f.id) && !(options.ignoreUnfixed && f.kind === 'vulnerability' && !f.fixed));
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, considered.filter((f) => f.severity === s).length])) as Record<Severity, number>;
  const blocking = considered.filter((f) => options.failOn.includes(f.severity));
  return { passed: blocking.length === 0, counts, considered, blocking, ignored, expired: options.ignore.filter((r) => r.expires && r.expires < now) };
}
