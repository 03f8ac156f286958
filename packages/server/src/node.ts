/**
 * A Parley node: wires the ports (store, broker, router, presence) to the domain and the transports.
 * Every port defaults to its embedded implementation, so `ParleyNode.start()` is a complete server.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { CloseCodes, type Cursor } from '@parley/protocol';
import type { Logger } from 'pino';
import { AuthService } from './auth/AuthService.ts';
import { TokenIssuer, type Principal } from './auth/tokens.ts';
import type { Broker, Notice } from './broker/Broker.ts';
import { MemoryBroker } from './broker/MemoryBroker.ts';
import { Calls } from './chat/Calls.ts';
import { Commands } from './chat/Commands.ts';
import { Conversations } from './chat/Conversations.ts';
import { Delivery } from './chat/Delivery.ts';
import { Messaging } from './chat/Messaging.ts';
import { PresenceService } from './chat/PresenceService.ts';
import { Typing } from './chat/Typing.ts';
import { createApp } from './http/app.ts';
import { authRoutes } from './http/routes-auth.ts';
import { cmdRoutes } from './http/routes-cmd.ts';
import { webAppRoutes } from './http/static.ts';
import { createLogger } from './logger.ts';
import { CountingTransport } from './metrics/CountingTransport.ts';
import { InstrumentedBroker, InstrumentedRouter } from './metrics/InstrumentedBroker.ts';
import { InstrumentedStore } from './metrics/InstrumentedStore.ts';
import { Metrics } from './metrics/Metrics.ts';
import { metricsRoute } from './metrics/routes.ts';
import { resolveOptions, type NodeOptions, type PartialOptions } from './options.ts';
import { MeetingLinks } from './rtc/MeetingLinks.ts';
import { RoomManager } from './rtc/RoomManager.ts';
import { RtcCommands } from './rtc/RtcCommands.ts';
import { MemoryPresence } from './presence/MemoryPresence.ts';
import type { Presence } from './presence/Presence.ts';
import { MemoryRouter } from './routing/MemoryRouter.ts';
import type { Router } from './routing/Router.ts';
import { Hub } from './session/Hub.ts';
import { Session, type SessionDeps } from './session/Session.ts';
import type { Transport } from './session/Transport.ts';
import { SqliteStore } from './store/SqliteStore.ts';
import { SqliteWorkerStore } from './store/SqliteWorkerStore.ts';
import type { Store } from './store/Store.ts';
import { longPollRoutes } from './transport/longpoll.ts';
import { sseRoutes } from './transport/sse.ts';
import { attachWebSocket } from './transport/websocket.ts';
import { randomId } from './util/ids.ts';

export interface NodePorts {
  store?: Store;
  broker?: Broker;
  router?: Router;
  presence?: Presence;
  logger?: Logger;
}

function tokenSecret(options: NodeOptions): string {
  if (options.tokenSecret) return options.tokenSecret;
  // Kept beside the data so that tokens stay valid across restarts of the same node.
  const file = join(options.dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(options.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

export class ParleyNode {
  readonly auth: AuthService;
  readonly commands: Commands;
  readonly hub: Hub;
  readonly messaging: Messaging;
  /** Meetings (rtc rooms and calls); null when `meetings.enabled` is false. */
  readonly meetings: { rooms: RoomManager; calls: Calls; commands: RtcCommands } | null = null;
  readonly log: Logger;
  private state: 'starting' | 'ready' | 'draining' | 'stopped' = 'starting';
  private stopWs: (() => void) | null = null;
  private readonly typing: Typing;
  private readonly sessionDeps: SessionDeps;
  private metrics: Metrics | null = null;

  private constructor(
    readonly options: NodeOptions,
    readonly store: Store,
    readonly broker: Broker,
    readonly router: Router,
    readonly presence: Presence,
    readonly app: FastifyInstance,
    logger: Logger,
  ) {
    const id = options.nodeId;
    this.log = logger.child({ node: id });
    const onError = (err: unknown) => this.log.warn({ err }, 'live delivery failed; clients recover by cursor');
    this.hub = new Hub(id, broker, router, presence, this.log);
    const local = {
      id,
      deliver: (n: Notice) => {
        this.metrics?.countLocal(n);
        this.hub.deliver(n);
      },
    };
    const delivery = new Delivery(broker, router, onError, local);
    const lim = options.limits;
    this.messaging = new Messaging(store, delivery, {
      maxBodyLength: lim.maxBodyLength,
      maxBatch: options.maxBatch,
      batchDelayMs: options.batchDelayMs,
      ackDelayMs: options.ackDelayMs,
      maxHistoryPage: lim.maxHistoryPage,
      syncPageSize: lim.syncPageSize,
    });
    const conversations = new Conversations(store, delivery, lim.maxGroupMembers);
    const presenceService = new PresenceService(presence, store, delivery, id);
    this.typing = new Typing(lim.typingTtlMs, lim.typingPerSecond, (conv, from, on) => {
      void store
        .memberIds(conv)
        .then((members) => delivery.typing(members.filter((m) => m !== from), conv, from, on))
        .catch(onError);
    });
    if (options.meetings.enabled) {
      const rooms = new RoomManager(options.meetings, this.log);
      const calls = new Calls(store, conversations, this.messaging, delivery, options.meetings, this.log);
      const links = new MeetingLinks(tokenSecret(options));
      this.meetings = { rooms, calls, commands: new RtcCommands({ rooms, calls, links, store, conversations }) };
    }
    this.commands = new Commands(store, conversations, this.messaging, presenceService, this.typing, this.meetings?.commands);
    this.auth = new AuthService(store, new TokenIssuer(tokenSecret(options), options.accessTtlSeconds), (p) => delivery.revoke(p.user, p.device));
    this.sessionDeps = { node: id, store, hub: this.hub, commands: this.commands, presence: presenceService, typing: this.typing, limits: lim, log: this.log };
  }

  static async start(given: PartialOptions = {}, ports: NodePorts = {}): Promise<ParleyNode> {
    const options = resolveOptions(given, () => randomId('n_', 6));
    const logger = ports.logger ?? createLogger();
    const metrics = new Metrics(options.nodeId);
    const dbPath = join(options.dataDir, 'parley.db');
    const embedded = () => (options.storeWorker ? new SqliteWorkerStore({ path: dbPath }) : new SqliteStore({ path: dbPath, backgroundCheckpoints: options.storeCheckpoints === 'background' }));
    const store = new InstrumentedStore(ports.store ?? embedded(), metrics);
    await store.migrate();
    const broker = new InstrumentedBroker(ports.broker ?? new MemoryBroker((err) => logger.warn({ err }, 'notice handler failed')), metrics);
    const router = new InstrumentedRouter(ports.router ?? new MemoryRouter(), metrics);
    const presence = ports.presence ?? new MemoryPresence();
    let node: ParleyNode | null = null;
    const app = createApp({ logger, bodyLimit: options.limits.maxFrameBytes, ready: () => node?.state === 'ready', node: options.nodeId });
    node = new ParleyNode(options, store, broker, router, presence, app, logger);
    node.metrics = metrics;
    metrics.countConnections(() => node.hub.all());
    metricsRoute(app, metrics);
    await node.listen();
    return node;
  }

  private async listen(): Promise<void> {
    const o = this.options;
    authRoutes(this.app, this.auth);
    webAppRoutes(this.app);
    const streams = { auth: this.auth, openSession: this.openSession.bind(this), accepting: () => this.state === 'ready', log: this.log };
    sseRoutes(this.app, streams, { keepAliveMs: Math.min(15_000, o.limits.heartbeatMs) });
    const lim = { maxEvents: o.limits.syncPageSize, maxBytes: o.limits.maxQueueBytes / 4 };
    const polls = longPollRoutes(this.app, { ...streams, commands: this.commands, hub: this.hub, presence: this.sessionDeps.presence, holdMs: o.limits.longPollHoldMs, limits: lim });
    cmdRoutes(this.app, {
      auth: this.auth,
      commands: this.commands,
      linksOf: (p) => polls.linksOf(p, this.hub.sessionsOfDevice(p.user, p.device)),
      maxBatch: 100,
    });
    await this.hub.start();
    await this.app.listen({ port: o.port, host: o.host });
    const ws = attachWebSocket(
      this.app.server,
      async (transport, req) => {
        const p = await this.auth.authenticate(req.token);
        return this.openSession(p, transport, req.cursor);
      },
      { maxFrameBytes: o.limits.maxFrameBytes, heartbeatMs: o.limits.heartbeatMs, accepting: () => this.state === 'ready' },
    );
    this.stopWs = ws.stop;
    this.state = 'ready';
    this.log.info({ port: this.port }, 'parley node ready');
  }

  /** Start a live session for an authenticated device on any transport. */
  async openSession(p: Principal, transport: Transport, from: Cursor | null): Promise<Session> {
    const session = new Session(this.sessionDeps, p, this.metrics ? new CountingTransport(transport, this.metrics) : transport);
    await session.open(from);
    return session;
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  get port(): number {
    return (this.app.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Graceful drain: refuse new connections, tell every client to reconnect (elsewhere), commit what
   * is in flight, then close the store. What was acknowledged is committed; the rest the clients
   * resend from their outboxes.
   */
  async stop(): Promise<void> {
    if (this.state === 'draining' || this.state === 'stopped') return;
    this.state = 'draining';
    for (const s of this.hub.all()) {
      if (s instanceof Session) s.write({ t: 'reconnect', retryMs: 500 });
      s.close(CloseCodes.SERVICE_RESTART, 'node draining');
    }
    this.stopWs?.();
    // Wait for in-flight writes and for the sessions' own cleanup (presence, last seen), bounded.
    const deadline = Date.now() + this.options.drainTimeoutMs;
    await Promise.race([this.messaging.idle(), new Promise((r) => setTimeout(r, this.options.drainTimeoutMs).unref())]);
    while (this.hub.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.race([this.hub.cleanupsDone(), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    await this.app.close();
    this.typing.close();
    this.meetings?.calls.close();
    this.meetings?.rooms.close();
    await this.hub.stop();
    await Promise.allSettled([this.broker.close(), this.router.close(), this.presence.close()]);
    await this.store.close();
    this.state = 'stopped';
    this.log.info('parley node stopped');
  }
}
