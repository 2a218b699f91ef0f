// Slipway's demo service: one instance per colour or version, with Prometheus metrics and switches to
// fail or slow down on demand, so blue-green and canary releases can be shown and tested for real.
//   node server.mjs --port 8081 --color blue --version 1.0.0
//   GET /            {"color","version","instance"}     GET /healthz   200 "ok" (503 while failing)
//   GET /metrics     http_requests_total{status,...}, http_request_duration_seconds (prom-client)
//   POST /admin/fail?rate=0.5    answer 500 to that share of requests (0 stops it)
//   POST /admin/slow?ms=300      add that much latency (0 stops it)
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import client from 'prom-client';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' }, color: { type: 'string', default: 'blue' }, version: { type: 'string', default: '1.0.0' } },
});
const labels = { color: values.color, version: values.version };
const registry = new client.Registry();
registry.setDefaultLabels(labels);
client.collectDefaultMetrics({ register: registry });
const requests = new client.Counter({ name: 'http_requests_total', help: 'HTTP requests by status.', labelNames: ['status', 'path'], registers: [registry] });
const duration = new client.Histogram({ name: 'http_request_duration_seconds', help: 'HTTP request latency.', labelNames: ['path'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5], registers: [registry] });

let failRate = 0;
let slowMs = 0;
const instance = `${values.color}-${values.port}`;

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/metrics') {
    res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
    return;
  }
  if (req.method === 'POST' && url.pathname.startsWith('/admin/')) {
    if (url.pathname === '/admin/fail') failRate = Math.min(1, Math.max(0, Number(url.searchParams.get('rate') ?? 1)));
    else if (url.pathname === '/admin/slow') slowMs = Math.max(0, Number(url.searchParams.get('ms') ?? 0));
    else return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ failRate, slowMs }));
    return;
  }
  const stop = duration.startTimer({ path: url.pathname });
  if (slowMs) await sleep(slowMs);
  const failing = failRate > 0 && Math.random() < failRate;
  let status = 200;
  if (url.pathname === '/healthz') {
    status = failRate > 0 ? 503 : 200;
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'failing');
  } else if (failing) {
    status = 500;
    res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'injected failure', ...labels, instance }));
  } else {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...labels, instance }));
  }
  stop();
  requests.inc({ status: String(status), path: url.pathname });
});

server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host, () => console.log(`demo-app ${instance} (${values.version}) on http://${values.host}:${values.port}`));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
