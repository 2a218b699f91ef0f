/**
 * Shortens text to at most max UTF-16 code units, ending in an ellipsis, without splitting a surrogate
 * pair. Services reject or cut over-long fields; a shortened message is better than a lost one.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - 1);
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}

/** Slack mrkdwn is not Markdown: bold is *x*, links are <url|text>, and &, <, > must be escaped. */
export function markdownToSlack(markdown: string): string {
  return markdown
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_, text: string, url: string) => `<${url}|${text}>`)
    .replace(/\*\*(.+?)\*\*|__(.+?)__/g, (_, a?: string, b?: string) => `*${a ?? b}*`)
    .replace(/~~(.+?)~~/g, '~$1~')
    .replace(/^#{1,6}\s+(.+)$/gm, '*$1*');
}
