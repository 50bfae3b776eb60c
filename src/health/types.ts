/** Health as Argo CD users know it, and the small readers every kind's rules share. Pure. */
import { isPlainObject, scalarText } from "../manifest/object.js";

export type HealthStatus = "Healthy" | "Suspended" | "Progressing" | "Missing" | "Degraded" | "Unknown";

export interface Health {
  status: HealthStatus;
  message?: string;
}

export type Fields = Record<string, unknown>;

/** Messages come from live status fields anyone with status rights writes: keep them short. */
export const MAX_MESSAGE = 300;

export function health(status: HealthStatus, message?: string): Health {
  if (!message) return { status };
  return { status, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message };
}

export function fields(value: unknown): Fields {
  return isPlainObject(value) ? value : {};
}

/** A number field, or `fallback` when absent or not a number. */
export function num(obj: unknown, key: string, fallback = 0): number {
  return isPlainObject(obj) && typeof obj[key] === "number" ? obj[key] : fallback;
}

export function text(obj: unknown, key: string): string {
  return isPlainObject(obj) ? scalarText(obj[key]) : "";
}

export function conditionsOf(status: Fields): Fields[] {
  return Array.isArray(status.conditions) ? status.conditions.filter(isPlainObject) : [];
}

export function condition(status: Fields, type: string): Fields | undefined {
  return conditionsOf(status).find((c) => c.type === type);
}

export const isTrue = (c: Fields | undefined): boolean => c?.status === "True";
