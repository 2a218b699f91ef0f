import * as core from '@actions/core';
import { formatDuration } from './duration';

/** core.summary writes cells as raw HTML; user text must be escaped before it goes into one. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": '#39' }[c]};`);
}

/** A table whose cells are plain text (escaped here); pass `{ html }` for a cell that is markup already. */
export function addTable(headers: readonly string[], rows: readonly (readonly (string | { html: string })[])[]): void {
  core.summary.addTable([
    headers.map((h) => ({ data: escapeHtml(h), header: true })),
    ...rows.map((row) => row.map((cell) => (typeof cell === 'string' ? escapeHtml(cell) : cell.html))),
  ]);
}

/** A collapsed section with preformatted text inside. */
export function addDetails(label: string, text: string): void {
  core.summary.addDetails(escapeHtml(label), `\n\n<pre>${escapeHtml(text)}</pre>\n\n`);
}

/** A Mermaid diagram: GitHub renders fenced `mermaid` blocks in job summaries (not <pre> blocks). */
export function addMermaid(diagram: string): void {
  core.summary.addRaw(`\n\n\`\`\`mermaid\n${diagram.trim()}\n\`\`\`\n\n`);
}

/**
 * Writes what was added to the job summary. Outside a runner (no GITHUB_STEP_SUMMARY, e.g. a local
 * run) there is nowhere to write, which is not an error.
 */
export async function writeSummary(): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) {
    core.debug('GITHUB_STEP_SUMMARY is not set; job summary not written');
    core.summary.emptyBuffer();
    return;
  }
  await core.summary.write();
}

/** What happened and when, logged as it happens and shown as a table in the job summary. */
export class Timeline {
  readonly started = Date.now();
  private readonly rows: string[][] = [];

  note(event: string, detail: string): void {
    this.rows.push([`+${formatDuration(Date.now() - this.started)}`, event, detail]);
    core.info(`${event}: ${detail}`);
  }

  addToSummary(): void {
    core.summary.addHeading('Timeline', 4);
    addTable(['When', 'Event', 'Detail'], this.rows);
  }
}
