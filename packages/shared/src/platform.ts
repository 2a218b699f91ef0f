// Which runners an action runs on. Each action names its own (they differ by the tools they drive);
// an unsupported runner fails the step before any work, rather than halfway through a deploy or a
// backup with a tool that does not exist there.

export interface SupportedRunners {
  /** Node's process.platform values. */
  platforms: readonly NodeJS.Platform[];
  /** Node's process.arch values; any when omitted. */
  arches?: readonly NodeJS.Architecture[];
}

export interface Runner {
  platform: NodeJS.Platform;
  arch: NodeJS.Architecture;
}

const OS_NAMES: Partial<Record<NodeJS.Platform, string>> = { linux: 'Linux', darwin: 'macOS', win32: 'Windows' };
const osName = (platform: NodeJS.Platform) => OS_NAMES[platform] ?? platform;
const and = (items: readonly string[]) => (items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items.at(-1)}` : (items[0] ?? ''));

/** Throws, saying which runners the action runs on, unless this runner is one of them. */
export function checkPlatform(action: string, supported: SupportedRunners, runner: Runner = { platform: process.platform, arch: process.arch }): void {
  if (supported.platforms.includes(runner.platform) && (!supported.arches || supported.arches.includes(runner.arch))) return;
  const runs = `${and(supported.platforms.map(osName))}${supported.arches ? ` ${and(supported.arches)}` : ''}`;
  throw new Error(`${action} does not run on ${osName(runner.platform)} ${runner.arch} runners (${runner.platform}/${runner.arch}), only on ${runs}; nothing was done. See the support matrix in Slipway's README.`);
}
