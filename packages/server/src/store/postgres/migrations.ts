/**
 * PostgreSQL schema, as an ordered list of migrations; `parley_migrations` records which ran.
 * Never edit a migration that has shipped: append a new one.
 *
 * Same shape as the SQLite schema: message events in user logs reference the message
 * (conv_id, seq) instead of copying it, so a group message is stored once however many members
 * it has. Times are ms since the epoch (bigint); seqs and cursors are bigint (parsed to number).
 */
export const postgresMigrations: readonly string[] = [
  `
  CREATE TABLE users (
    id text PRIMARY KEY,
    handle text NOT NULL,
    password_hash text NOT NULL,
    created_at bigint NOT NULL,
    last_seen bigint,
    -- highest cursor of the user's log; locked and bumped to append events
    head bigint NOT NULL DEFAULT 0,
    -- acks up to here were already folded into the delivered watermarks (a scan lower bound)
    delivered_cursor bigint NOT NULL DEFAULT 0
  );
  CREATE UNIQUE INDEX users_handle_lc ON users (lower(handle));

  CREATE TABLE devices (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id),
    name text NOT NULL,
    refresh_hash text NOT NULL,
    created_at bigint NOT NULL,
    revoked boolean NOT NULL DEFAULT false,
    acked bigint NOT NULL DEFAULT 0
  );
  CREATE INDEX devices_user ON devices (user_id);

  CREATE TABLE conversations (
    id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('direct', 'group')),
    name text NOT NULL,
    -- the sorted user pair of a direct conversation; unique, so racing creators converge
    direct_key text UNIQUE,
    created_at bigint NOT NULL,
    last_seq bigint NOT NULL DEFAULT 0,
    active_at bigint NOT NULL,
    agg_delivered bigint NOT NULL DEFAULT 0,
    agg_read bigint NOT NULL DEFAULT 0
  );

  CREATE TABLE members (
    conv_id text NOT NULL REFERENCES conversations(id),
    user_id text NOT NULL REFERENCES users(id),
    admin boolean NOT NULL DEFAULT false,
    active boolean NOT NULL DEFAULT true,
    delivered bigint NOT NULL DEFAULT 0,
    read bigint NOT NULL DEFAULT 0,
    joined_at bigint NOT NULL,
    PRIMARY KEY (conv_id, user_id)
  );
  CREATE INDEX members_user ON members (user_id) WHERE active;

  CREATE TABLE messages (
    conv_id text NOT NULL REFERENCES conversations(id),
    seq bigint NOT NULL,
    sender text NOT NULL,
    cmid text NOT NULL,
    kind text NOT NULL,
    body text NOT NULL,
    ts bigint NOT NULL,
    PRIMARY KEY (conv_id, seq)
  );
  CREATE UNIQUE INDEX messages_idem ON messages (sender, cmid);

  CREATE TABLE events (
    user_id text NOT NULL,
    cursor bigint NOT NULL,
    kind text NOT NULL,
    conv_id text,
    seq bigint,
    -- the LogEvent as JSON for every kind but 'message' (rebuilt from messages)
    payload jsonb,
    PRIMARY KEY (user_id, cursor)
  );
  `,
  // 2: runs (runs.ts): a large group's messages in a member's log as stretches of cursors.
  `
  CREATE TABLE runs (
    user_id text NOT NULL,
    -- cursor of the run's first message in the user's log
    base_cursor bigint NOT NULL,
    conv_id text NOT NULL,
    first_seq bigint NOT NULL,
    -- null while the run is open (it then ends at the conversation's last_seq)
    last_seq bigint,
    end_cursor bigint,
    PRIMARY KEY (user_id, base_cursor)
  );
  -- at most one open run per user (kept by the writers, who hold the user's row lock)
  CREATE INDEX runs_open_user ON runs (user_id) WHERE last_seq IS NULL;
  CREATE INDEX runs_open_conv ON runs (conv_id) WHERE last_seq IS NULL;
  `,
  // 3: what acks write moves to tables of their own, which appends never lock: a 1,024-member
  // group acks ~1,000 times per message, and those row writes no longer wait for (or hold) the
  // conversation's row lock (receipts.ts).
  `
  CREATE TABLE user_acks (
    user_id text PRIMARY KEY,
    -- acks up to here were already folded into the delivered watermarks (a scan lower bound)
    delivered_cursor bigint NOT NULL
  );
  INSERT INTO user_acks (user_id, delivered_cursor) SELECT id, delivered_cursor FROM users WHERE delivered_cursor > 0;
  ALTER TABLE users DROP COLUMN delivered_cursor;
  -- a member's delivered watermark is greatest(members.delivered, deliveries.delivered)
  CREATE TABLE deliveries (
    conv_id text NOT NULL,
    user_id text NOT NULL,
    delivered bigint NOT NULL,
    PRIMARY KEY (conv_id, user_id)
  );
  `,
];
