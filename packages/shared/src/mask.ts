/**
 * What may be shown of a secret value in a message: a URL keeps only its scheme and host (credentials,
 * path and query are where webhook tokens live); anything else is hidden entirely.
 */
export function maskValue(value: string): string {
  if (value === '') return '';
  try {
    const url = new URL(value);
    if (url.host) return `${url.protocol}//${url.host}/***`;
  } catch {
    // not a URL: hide it all
  }
  return '***';
}

/** Replaces every occurrence of each secret in text (longest first, so overlapping secrets are fully hidden). */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('***');
  }
  return out;
}
