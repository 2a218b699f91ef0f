import { freePort, waitForPort } from '../helpers/net';
import { requireCommand, startProcess, type Service } from './process';

/** A real Prometheus Pushgateway (Debian package prometheus-pushgateway) on a free loopback port. */
export async function startPushgateway(): Promise<Service> {
  requireCommand('prometheus-pushgateway', 'apt-get install prometheus-pushgateway');
  const port = await freePort();
  const proc = startProcess('prometheus-pushgateway', [`--web.listen-address=127.0.0.1:${port}`]);
  try {
    await waitForPort(port, 'prometheus-pushgateway');
  } catch (error) {
    await proc.stop();
    throw new Error(`${(error as Error).message}\n${proc.output()}`, { cause: error });
  }
  return { url: `http://127.0.0.1:${port}`, port, stop: proc.stop };
}
