/** What one channel reports back; this is the shape of each entry of the `results` output. */
export interface ChannelResult {
  ok: boolean;
  /** The last HTTP status (or SMTP response code); null when nothing answered or nothing was sent. */
  status: number | null;
  attempts: number;
  error?: string;
  /** Why nothing was sent, when that was the right thing to do (e.g. PagerDuty `auto` on `info`). */
  skipped?: string;
}

/** A channel's own outputs (e.g. the Slack message ts) besides its result. */
export interface Delivery {
  result: ChannelResult;
  outputs?: Record<string, string>;
}
