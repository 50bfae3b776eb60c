/**
 * A real OpenSSH server for tests of Git over SSH, serving a Git server's repositories through
 * git-shell. It runs as the current user (root in CI), with no system user added: sshd reads only
 * its own config and host keys from a private temp dir, and the one authorized key is restricted
 * (`restrict,command="git-shell -c …"`) so the test's key can run git-upload-pack and nothing else.
 * `StrictModes no` because the temp dir lives under /tmp (mode 1777), which StrictModes refuses as a
 * parent of authorized_keys; the dir itself is 0700, which is what StrictModes guards.
 *
 * Listens on 127.0.0.1 at a random port (for ssh:// URLs) and, since scp-like URLs cannot name a
 * port, also on port 22 of a random address in 127.0.0.0/8 (Linux answers the whole /8 on lo).
 * Stopped by stop(); the environment's watchdog kills it if the test process dies.
 */
import { execFile } from "node:child_process";
import { randomInt } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  ENV_DIR_PREFIX,
  freePort,
  logTail,
  startProcess,
  startWatchdog,
  stopProcess,
  writeOwner,
  type Supervised,
} from "./processes.js";

const run = promisify(execFile);
export const SSHD = "/usr/sbin/sshd";
const GIT_SHELL = "/usr/bin/git-shell";
/** sshd refuses to start without its privilege separation dir (systemd's RuntimeDirectory makes it). */
const PRIVSEP_DIR = "/run/sshd";

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export interface SshServer {
  /** 127.0.0.1, or the address asked for. */
  host: string;
  port: number;
  /** A 127.x.y.z address where sshd listens on port 22 (for scp-like URLs); undefined if that port was taken. */
  scpHost?: string;
  /** The client key sshd accepts. */
  clientKey: KeyPair;
  /** known_hosts lines for both addresses with the current host key. */
  knownHosts(): string;
  /** Restarts sshd on the same addresses with a freshly generated host key (a "changed host key"). */
  rotateHostKey(): Promise<void>;
  /** Connections accepted so far (from sshd's log). */
  connections(): Promise<number>;
  stop(): Promise<void>;
}

export async function generateKey(dir: string, name: string): Promise<KeyPair> {
  const path = join(dir, name);
  await rm(path, { force: true });
  await rm(`${path}.pub`, { force: true });
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", path]);
  return {
    privateKey: await readFile(path, "utf8"),
    publicKey: (await readFile(`${path}.pub`, "utf8")).trim(),
  };
}

function config(dir: string, listen: string[]): string {
  return [
    ...listen.map((l) => `ListenAddress ${l}`),
    `HostKey ${join(dir, "host_key")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `AllowUsers ${userInfo().username}`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "AllowTcpForwarding no",
    "AllowAgentForwarding no",
    "X11Forwarding no",
    "PermitTunnel no",
    "PrintMotd no",
    "LogLevel VERBOSE",
    "MaxStartups 100",
  ].join("\n");
}

async function portFree(host: string, port: number): Promise<boolean> {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

export interface SshServerOptions {
  /** Address to listen on instead of 127.0.0.1 (pods reach the host at the node's bridge gateway). */
  host?: string;
}

/** Starts sshd serving `reposDir` (absolute repository paths) over git-shell. */
export async function startSshServer(opts: SshServerOptions = {}): Promise<SshServer> {
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(tmpdir(), `${ENV_DIR_PREFIX}sshd-`));
  await chmod(dir, 0o700);
  await mkdir(join(dir, "logs"));
  await writeOwner(dir);
  const watchdog = startWatchdog(dir);
  const clientKey = await generateKey(dir, "client_key");
  const restriction = `restrict,command="${GIT_SHELL} -c \\"$SSH_ORIGINAL_COMMAND\\""`;
  await writeFile(join(dir, "authorized_keys"), `${restriction} ${clientKey.publicKey}\n`, { mode: 0o600 });
  const host = opts.host ?? "127.0.0.1";
  const port = await freePort();
  let scpHost: string | undefined = `127.${randomInt(1, 255)}.${randomInt(1, 255)}.${randomInt(2, 255)}`;
  if (!(await portFree(scpHost, 22))) scpHost = undefined;
  const listen = [`${host}:${port}`, ...(scpHost ? [`${scpHost}:22`] : [])];
  await writeFile(join(dir, "sshd_config"), `${config(dir, listen)}\n`);
  let hostKey = "";
  let proc: Supervised | undefined;

  const start = async (): Promise<void> => {
    hostKey = (await generateKey(dir, "host_key")).publicKey;
    await run(SSHD, ["-t", "-f", join(dir, "sshd_config")]);
    proc = await startProcess(dir, "sshd", SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")]);
    await waitListening(proc, host, port);
  };
  await start();

  return {
    host,
    port,
    scpHost,
    clientKey,
    knownHosts: () => {
      const [type, key] = hostKey.split(" ");
      return [`[${host}]:${port} ${type} ${key}`, ...(scpHost ? [`${scpHost} ${type} ${key}`] : [])].join(
        "\n",
      );
    },
    rotateHostKey: async () => {
      if (proc) await stopProcess(proc);
      await start();
    },
    connections: async () =>
      (await readFile(join(dir, "logs", "sshd.log"), "utf8").catch(() => "")).split("Connection from ")
        .length - 1,
    stop: async () => {
      if (proc) await stopProcess(proc);
      await rm(dir, { recursive: true, force: true });
      watchdog.kill();
    },
  };
}

async function waitListening(proc: Supervised, host: string, port: number): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) break;
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`sshd did not start listening on ${host}:${port}:\n${await logTail(proc)}`);
}
