// Loaded with `node --import` by the benchmarks: on exit, writes this process's peak RSS (KiB) to the
// file named by SLIPWAY_RSS_FILE, so the action's own memory is measured without changing its code.
import { writeFileSync } from 'node:fs';

const file = process.env.SLIPWAY_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
