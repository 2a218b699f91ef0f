import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addDetails, addMermaid, addTable, writeSummary } from '../src/index';

describe('job summary helpers', () => {
  afterEach(() => {
    delete process.env.GITHUB_STEP_SUMMARY;
  });

  it('writes escaped tables, details and a fenced Mermaid block to GITHUB_STEP_SUMMARY', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'slipway-summary-')), 'summary.md');
    writeFileSync(file, '');
    process.env.GITHUB_STEP_SUMMARY = file;
    addTable(['Metric', 'Value'], [['<b>errors</b>', '5 %'], ['link', { html: '<a href="https://x">x</a>' }]]);
    addDetails('Logs <tail>', 'line 1\n<script>');
    addMermaid('xychart-beta\n  line [1, 2, 3]\n');
    await writeSummary();
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('<th>Metric</th>');
    expect(text).toContain('<td>&lt;b&gt;errors&lt;/b&gt;</td>');
    expect(text).toContain('<td><a href="https://x">x</a></td>');
    expect(text).toContain('<summary>Logs &lt;tail&gt;</summary>');
    expect(text).toContain('<pre>line 1\n&lt;script&gt;</pre>');
    expect(text).toContain('\n```mermaid\nxychart-beta\n  line [1, 2, 3]\n```\n');
  });

  it('is a no-op outside a runner', async () => {
    addTable(['a'], [['b']]);
    await expect(writeSummary()).resolves.toBeUndefined();
  });
});
