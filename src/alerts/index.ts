/** Public surface of the alerting subsystem. */
export type { Actor, AlertEvent, AlertEventType, AlertSink, FieldChange } from "../manifest/event.js";
export { discardAlerts } from "../manifest/event.js";
export type { ChannelConfig, ChannelType } from "./channel.js";
export {
  createAlertDispatcher,
  validateChannels,
  type AlertDispatcher,
  type AlertDispatcherConfig,
  type AlertDispatcherOptions,
} from "./dispatcher.js";
export {
  resolveChannelURL,
  resolveChannels,
  type ChannelSpec,
  type SecretKeyRef,
  type SecretReader,
} from "./channel-url.js";
export { slackPayload, type SlackMessage } from "./slack.js";
export { teamsPayload, type TeamsMessage } from "./teams.js";
export {
  webhookPayload,
  signBody,
  verifySignature,
  SIGNATURE_HEADER,
  EVENT_HEADER,
  DELIVERY_HEADER,
  WEBHOOK_VERSION,
  type WebhookDocument,
} from "./webhook.js";
export { HELD_BACK_TYPE, summaryText, type HeldSummary } from "./summary.js";
export type { FormatContext } from "./text.js";
export type { RateLimit } from "./limits.js";
