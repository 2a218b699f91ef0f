import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

/** A real Prometheus Pushgateway (Debian package prometheus-pushgateway) on a free loopback port. */
export async function startPushgateway(): Promise<Service> {
  requireCommand('prometheus-pushgateway', 'apt-get install prometheus-pushgateway');
  const port = await freePort();
  const proc = await startService('prometheus-pushgateway', 'prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`], port);
  return { url: `http://127.0.0.1:${port}`, port, stop: proc.stop };
}
