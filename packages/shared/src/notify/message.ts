import type { RunContext } from '../context';

export const STATUSES = ['success', 'failure', 'cancelled', 'skipped', 'info'] as const;
export type Status = (typeof STATUSES)[number];

export interface Link {
  text: string;
  url: string;
}

/** One notification, rendered once and then shaped for each channel. */
export interface Notification {
  status: Status;
  title: string;
  /** Markdown. */
  message: string;
  fields: [string, string][];
  links: Link[];
  context: RunContext;
  timestamp: Date;
}

export interface StatusStyle {
  emoji: string;
  /** `#rrggbb` */
  color: string;
  /** How a title says it: "CI succeeded". */
  verb: string;
  /** Adaptive Card container style. */
  cardStyle: 'good' | 'attention' | 'warning' | 'accent' | 'emphasis';
}

export const STYLES: Record<Status, StatusStyle> = {
  success: { emoji: '✅', color: '#2eb67d', verb: 'succeeded', cardStyle: 'good' },
  failure: { emoji: '❌', color: '#e01e5a', verb: 'failed', cardStyle: 'attention' },
  cancelled: { emoji: '🚫', color: '#9e9e9e', verb: 'was cancelled', cardStyle: 'warning' },
  skipped: { emoji: '⏭️', color: '#9e9e9e', verb: 'was skipped', cardStyle: 'emphasis' },
  info: { emoji: 'ℹ️', color: '#1d9bd1', verb: 'reports', cardStyle: 'accent' },
};

/** The title when none is given: "CI failed on main". */
export function defaultTitle(status: Status, context: RunContext): string {
  const what = context.workflow || 'Workflow';
  if (status === 'info') return what;
  return `${what} ${STYLES[status].verb}${context.refName ? ` on ${context.refName}` : ''}`;
}

export function headline(n: Notification): string {
  return `${STYLES[n.status].emoji} ${n.title}`;
}

/** "owner/repo@abc1234 by octocat": who and what, for a footer line. */
export function provenance(context: RunContext): string {
  const parts = [context.repo && `${context.repo}${context.shortSha ? `@${context.shortSha}` : ''}`, context.actor && `by ${context.actor}`];
  return parts.filter(Boolean).join(' ');
}
