/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews every
 * `retryMs`; others take over once `durationMs` passed without renewal. Only the leader writes.
 */
import type { ClusterClient } from "./client.js";
import { isConflict } from "./api-error.js";
import type { Logger } from "../log/logger.js";

export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  durationMs?: number;
  retryMs?: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private leading = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly client: ClusterClient,
    private readonly opts: LeaderOptions,
    private readonly logger: Logger,
    private readonly onChange: (leading: boolean) => void,
  ) {}

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      // A renewal that hangs must not keep this replica leading past the Lease (client-go's
      // renewDeadline): after 2/3 of the duration it steps down, as another may take over soon.
      const deadlineMs = Math.floor(((this.opts.durationMs ?? 15_000) * 2) / 3);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${deadlineMs} ms`)), deadlineMs);
      });
      const leading = await Promise.race([this.tryAcquireOrRenew(), deadline])
        .finally(() => clearTimeout(timer))
        .catch((err: unknown) => {
          this.logger.warn({ err: String(err) }, "leader election: lease update failed");
          return false;
        });
      this.setLeading(leading);
      if (!this.stopped) this.timer = setTimeout(() => void tick(), this.opts.retryMs ?? 2000);
    };
    void tick();
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.logger.info(
      { identity: this.opts.identity, leading },
      leading ? "became leader" : "lost leadership",
    );
    this.onChange(leading);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const durationMs = this.opts.durationMs ?? 15_000;
    const target = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      namespace: this.opts.namespace,
      name: this.opts.name,
    };
    const now = new Date();
    const lease = await this.client.get(target);
    const mine: LeaseSpec = {
      holderIdentity: this.opts.identity,
      leaseDurationSeconds: Math.ceil(durationMs / 1000),
      renewTime: microTime(now),
    };
    if (!lease) {
      await this.client.create({
        ...target,
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: { ...mine, acquireTime: microTime(now), leaseTransitions: 0 },
      });
      return true;
    }
    const spec = (lease.spec ?? {}) as LeaseSpec;
    const renewed = Date.parse(spec.renewTime ?? "") || 0;
    const expired = now.getTime() > renewed + (spec.leaseDurationSeconds ?? 15) * 1000;
    if (spec.holderIdentity !== this.opts.identity && !expired) return false;
    const next: LeaseSpec =
      spec.holderIdentity === this.opts.identity
        ? { ...spec, ...mine }
        : { ...mine, acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    try {
      await this.client.replace({ ...lease, spec: next });
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone else won this round
      throw err;
    }
  }

  /** Gives the lease up so that another replica takes over at once (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    const target = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      namespace: this.opts.namespace,
      name: this.opts.name,
    };
    const lease = await this.client.get(target).catch(() => undefined);
    if (lease && (lease.spec as LeaseSpec | undefined)?.holderIdentity === this.opts.identity) {
      await this.client
        .replace({
          ...lease,
          spec: { ...(lease.spec as LeaseSpec), holderIdentity: "", leaseDurationSeconds: 1 },
        })
        .catch(() => undefined);
    }
    this.setLeading(false);
  }
}
