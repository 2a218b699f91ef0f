import { InputError, isLoopback } from '../inputs';
import { registerSecret, type Endpoint } from '../secrets/index';
import { escapeHtml } from '../summary';
import { withRetries, RetriesExhaustedError, type RetryPolicy } from '../retry';
import type { Delivery } from './channel';
import { headline, provenance, STYLES, type Notification } from './message';

export interface EmailOptions {
  /** smtp:// or smtps://, its user and password (sent with SMTP AUTH) taken out. */
  smtp: Endpoint;
  from: string;
  to: string[];
  cc: string[];
  /** Allow a plain (no STARTTLS) session to a host that is not loopback. */
  allowInsecure: boolean;
  /** Extra CA certificates to trust (PEM), for private mail relays. */
  ca?: string;
}

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

/** Accepts `a@example.com` or `Name <a@example.com>`; the error names the input. */
export function checkAddress(input: string, value: string): string {
  const inner = /<([^<>]+)>\s*$/.exec(value)?.[1] ?? value;
  if (!ADDRESS.test(inner.trim())) throw new InputError(input, value, 'an e-mail address such as `ops@example.com` or `Ops <ops@example.com>`');
  return value;
}

export async function renderEmail(n: Notification): Promise<{ subject: string; text: string; html: string }> {
  const { Marked } = await import('marked');
  // Raw HTML in the message (say, from a PR title) is shown as text, never interpreted.
  const marked = new Marked({ renderer: { html: ({ text }) => escapeHtml(text) } });
  const style = STYLES[n.status];
  const fieldsText = n.fields.map(([k, v]) => `${k}: ${v}`).join('\n');
  const linksText = n.links.map((l) => `${l.text}: ${l.url}`).join('\n');
  const footer = provenance(n.context);
  const text = [headline(n), n.message, fieldsText, linksText, footer].filter(Boolean).join('\n\n');
  const rows = n.fields
    .map(([k, v]) => `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('');
  const links = n.links.map((l) => `<a href="${escapeHtml(l.url)}">${escapeHtml(l.text)}</a>`).join(' · ');
  const html = [
    `<div style="font-family:sans-serif;border-left:4px solid ${style.color};padding-left:12px">`,
    `<h2>${escapeHtml(headline(n))}</h2>`,
    n.message ? await marked.parse(n.message) : '',
    rows ? `<table>${rows}</table>` : '',
    links ? `<p>${links}</p>` : '',
    footer ? `<p style="color:#666;font-size:small">${escapeHtml(footer)}</p>` : '',
    '</div>',
  ].join('\n');
  return { subject: headline(n), text, html };
}

const TRANSIENT_CODES = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ECONNREFUSED', 'ECONNRESET', 'EDNS']);

/** Connection trouble and 4xx SMTP replies (greylisting, "try again later") are worth another try. */
function isTransient(error: unknown): boolean {
  const e = error as { code?: string; responseCode?: number };
  return (e.code !== undefined && TRANSIENT_CODES.has(e.code)) || (e.responseCode !== undefined && e.responseCode >= 400 && e.responseCode < 500);
}

export async function sendEmail(options: EmailOptions, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  const { createTransport } = await import('nodemailer');
  const { url, credentials } = options.smtp;
  if (credentials?.user) {
    // A relay refusing the login may quote the AUTH exchange back: PLAIN's token and LOGIN's lines are
    // the credentials in base64.
    for (const sent of [`\0${credentials.user}\0${credentials.password}`, credentials.user, credentials.password]) {
      registerSecret(Buffer.from(sent).toString('base64').replace(/=+$/, ''), { fragment: true });
    }
  }
  const secure = url.protocol === 'smtps:';
  const transport = createTransport({
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : secure ? 465 : 587,
    secure,
    // Credentials must not cross the network in clear: insist on STARTTLS unless told otherwise.
    requireTLS: !secure && !options.allowInsecure && !isLoopback(url.hostname),
    auth: credentials?.user ? { user: credentials.user, pass: credentials.password } : undefined,
    connectionTimeout: policy.timeoutMs,
    greetingTimeout: policy.timeoutMs,
    socketTimeout: policy.timeoutMs,
    tls: options.ca ? { ca: options.ca } : undefined,
  });
  const mail = await renderEmail(n);
  try {
    const { value, attempts } = await withRetries(
      'E-mail',
      policy,
      () => transport.sendMail({ from: options.from, to: options.to, cc: options.cc.length ? options.cc : undefined, ...mail }),
      isTransient,
    );
    const code = Number(/^(\d{3})/.exec(String(value.response))?.[1] ?? 250);
    return { result: { ok: true, status: code, attempts } };
  } catch (error) {
    if (error instanceof RetriesExhaustedError) {
      const code = (error.cause as { responseCode?: number } | undefined)?.responseCode;
      return { result: { ok: false, status: code ?? null, attempts: error.attempts, error: error.message } };
    }
    throw error;
  } finally {
    transport.close();
  }
}
