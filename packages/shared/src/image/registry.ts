// The registry an image is pushed to: its host, and a login that gives the password on stdin to the
// builder (a private auth file for buildah, `docker login` undone by `logout()` for Docker), to skopeo
// (buildah's auth file, or one of its own beside Docker's login) and to the scanner through its environment. Loopback registries are plain HTTP, as Docker treats them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../exec';
import { isLoopback } from '../inputs';
import type { Builder } from './build';

/** Docker treats 127.0.0.0/8 as an insecure (plain HTTP) registry by default; buildah and the scanners are told so too. */
export const insecureRegistry = (host: string): boolean => isLoopback(host.replace(/:\d+$/, ''));

/** Docker's rule: the first path component is a registry host when it has a `.` or `:`, or is `localhost`. */
export function registryHost(image: string): string {
  const first = image.split('/')[0] ?? '';
  return image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

export interface Credentials {
  username: string;
  password: string;
}

export class Registry {
  /** buildah's and skopeo's auth file lives here, private to the step, from login() to logout(). */
  private authDir?: string;
  private loggedIn = false;
  private authFileWritten = false;

  constructor(
    readonly host: string,
    readonly builder: Builder,
    private readonly credentials?: Credentials,
  ) {}

  get insecure(): boolean {
    return insecureRegistry(this.host);
  }

  private get authFile(): string {
    this.authDir ??= mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'slipway-auth-'));
    return join(this.authDir, 'auth.json');
  }

  /**
   * Logs the builder in, and with `skopeo` skopeo too (buildah's auth file serves both); without
   * credentials there is nothing to do (a public or pre-authenticated registry).
   */
  async login(options: { skopeo?: boolean } = {}): Promise<void> {
    if (!this.credentials) return;
    const { username, password } = this.credentials;
    const containersLogin = ['login', '--authfile', this.authFile, ...(this.insecure ? ['--tls-verify=false'] : []), '--username', username, '--password-stdin', this.host];
    const given = { input: password, secrets: [password], silent: true };
    await exec(this.builder === 'buildah' ? 'buildah' : 'docker', this.builder === 'buildah' ? containersLogin : ['login', '--username', username, '--password-stdin', this.host], given);
    this.loggedIn = true;
    if (this.builder === 'docker' && options.skopeo) await exec('skopeo', containersLogin, given);
    this.authFileWritten = this.builder === 'buildah' || Boolean(options.skopeo);
  }

  /** Flags buildah's build (for private base images too) and push take for this registry. */
  buildahFlags(): string[] {
    return [...(this.loggedIn ? ['--authfile', this.authFile] : []), ...(this.insecure ? ['--tls-verify=false'] : [])];
  }

  /** Flags for `skopeo copy` to this registry, or `skopeo inspect` of an image in it. */
  skopeoFlags(command: 'copy' | 'inspect'): string[] {
    return [...(this.authFileWritten ? ['--authfile', this.authFile] : []), ...(this.insecure ? [command === 'copy' ? '--dest-tls-verify=false' : '--tls-verify=false'] : [])];
  }

  /** What the scanners need to pull a private image from this registry. */
  scannerEnv(): Record<string, string> {
    if (!this.credentials) return {};
    const { username, password } = this.credentials;
    return { TRIVY_USERNAME: username, TRIVY_PASSWORD: password, GRYPE_REGISTRY_AUTH_AUTHORITY: this.host, GRYPE_REGISTRY_AUTH_USERNAME: username, GRYPE_REGISTRY_AUTH_PASSWORD: password };
  }

  /** Forgets the credentials: the auth file goes, and Docker's stored login is removed. */
  async logout(): Promise<void> {
    if (this.authDir) rmSync(this.authDir, { recursive: true, force: true });
    if (this.loggedIn && this.builder === 'docker') await exec('docker', ['logout', this.host], { silent: true, ignoreExitCode: true });
    this.loggedIn = false;
    this.authFileWritten = false;
  }
}
