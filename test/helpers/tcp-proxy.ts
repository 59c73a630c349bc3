/**
 * A small TCP proxy on 127.0.0.1 in front of a PostgreSQL server, for fault injection: it cuts every
 * connection on command, after N bytes in one direction, or when a client sends a given statement
 * (optionally forwarding that statement first, so the server may act on it while the client never
 * hears back: the ambiguous COMMIT).
 */
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';

/** Which way the bytes flow. */
export type Direction = 'toServer' | 'toClient';

/** A one-shot fault: when it fires, every open connection is cut. */
export type Fault =
  /** Cut once `bytes` bytes have passed in `direction` (over all connections) since the fault was armed. */
  | { readonly kind: 'bytes'; readonly direction: Direction; readonly bytes: number }
  /**
   * Cut when a client sends data containing `text` (e.g. `COMMIT`). With `forward`, the data is passed to
   * the server first and the server side is closed gracefully after it, so the server runs the statement.
   */
  | { readonly kind: 'match'; readonly text: string; readonly forward: boolean };

/** What a fired fault saw. */
export interface FaultReport {
  readonly fault: Fault;
  /** Connections that were open and got cut. */
  readonly cut: number;
}

/** A running proxy. */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** `url` with host and port replaced by the proxy's. */
  url(url: string): string;
  /** Cuts every open connection now; returns how many were cut. */
  cutAll(): number;
  /** Arms a one-shot fault; the promise resolves when it fires. Replaces a fault that has not fired. */
  arm(fault: Fault): Promise<FaultReport>;
  /** Disarms the pending fault, if any. */
  disarm(): void;
  /** Whether a fault is armed and has not fired. */
  readonly armed: boolean;
  /** Connections accepted so far, and open now. */
  readonly accepted: number;
  readonly open: number;
  /** Stops listening and cuts everything. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly server: Socket;
}

interface Armed {
  readonly fault: Fault;
  seen: number;
  readonly fire: (report: FaultReport) => void;
}

/** Starts a proxy to `target` (host and port of the real server). */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let accepted = 0;
  let armed: Armed | undefined;

  const cut = (except?: { pair: Pair; graceful: boolean }): number => {
    let n = 0;
    for (const pair of [...pairs]) {
      n += 1;
      pairs.delete(pair);
      if (except?.pair === pair && except.graceful) {
        // The forwarded data reaches the server before the FIN, so it runs the statement; the client never hears back.
        pair.server.end();
      } else {
        pair.server.destroy();
      }
      pair.client.destroy();
    }
    return n;
  };

  const fire = (pair: Pair, graceful: boolean): void => {
    const current = armed;
    if (!current) return;
    armed = undefined;
    const n = cut({ pair, graceful });
    current.fire({ fault: current.fault, cut: n });
  };

  /** Passes `data` on (pausing the sender while the receiver's buffer is full), or fires the armed fault. */
  const pass = (pair: Pair, direction: Direction, data: Buffer): void => {
    const [from, to] = direction === 'toServer' ? [pair.client, pair.server] : [pair.server, pair.client];
    const fault = armed?.fault;
    if (fault?.kind === 'bytes' && fault.direction === direction && armed) {
      armed.seen += data.length;
      if (armed.seen >= fault.bytes) {
        fire(pair, false);
        return;
      }
    }
    if (fault?.kind === 'match' && direction === 'toServer' && data.includes(fault.text)) {
      if (fault.forward) to.write(data);
      fire(pair, fault.forward);
      return;
    }
    if (!to.write(data)) from.pause();
  };

  const server: Server = createServer((client) => {
    accepted += 1;
    const upstream = tcpConnect({ host: target.host, port: target.port });
    const pair: Pair = { client, server: upstream };
    pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const drop = (): void => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => pass(pair, 'toServer', d));
    upstream.on('data', (d: Buffer) => pass(pair, 'toClient', d));
    // Back-pressure both ways, so a slow reader slows the writer as it would on a real network.
    client.on('drain', () => upstream.resume());
    upstream.on('drain', () => client.resume());
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    port,
    url(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cutAll: () => cut(),
    arm(fault) {
      return new Promise<FaultReport>((resolve) => {
        armed = { fault, seen: 0, fire: resolve };
      });
    },
    disarm() {
      armed = undefined;
    },
    get armed() {
      return armed !== undefined;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    async close() {
      armed = undefined;
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
