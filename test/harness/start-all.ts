/**
 * Start several parts of a test environment at once; if one fails, stop those that started before
 * rethrowing. A Git server or control plane left running would hold the file's process open until
 * the runner's file timeout, turning one failed start into a half-hour hang.
 */
type Started<T extends readonly unknown[]> = { -readonly [K in keyof T]: Awaited<T[K]> };

export async function startAll<T extends readonly unknown[]>(starts: T): Promise<Started<T>> {
  const parts = await Promise.allSettled(starts);
  const failed = parts.find((p): p is PromiseRejectedResult => p.status === "rejected");
  if (!failed) return parts.map((p) => (p as PromiseFulfilledResult<unknown>).value) as Started<T>;
  await Promise.all(
    parts.map(async (p) => {
      const value = p.status === "fulfilled" ? (p.value as { stop?: () => Promise<void> }) : undefined;
      if (typeof value?.stop === "function") await value.stop().catch(() => undefined);
    }),
  );
  throw failed.reason;
}
