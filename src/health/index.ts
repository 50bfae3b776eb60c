export { aggregateHealth, healthOf, summarizeHealth, type ObjectHealth } from "./health.js";
export type { Health, HealthStatus } from "./types.js";
export { healthTransition, type HealthAlert, type HealthRecord } from "./transition.js";
