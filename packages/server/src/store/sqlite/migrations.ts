/**
 * SQLite schema, as an ordered list of migrations. PRAGMA user_version records how many ran.
 * Never edit a migration that has shipped: append a new one.
 *
 * Message events in user logs reference the message (conv_id, seq) instead of copying its body, so
 * a group message is stored once however many members it has.
 */
export const sqliteMigrations: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    handle TEXT NOT NULL,
    handle_lc TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER,
    head INTEGER NOT NULL DEFAULT 0,
    delivered_cursor INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    refresh_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX devices_user ON devices(user_id);
  CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    direct_key TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    last_seq INTEGER NOT NULL DEFAULT 0,
    active_at INTEGER NOT NULL,
    agg_delivered INTEGER NOT NULL DEFAULT 0,
    agg_read INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE members (
    conv_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1,
    delivered INTEGER NOT NULL DEFAULT 0,
    read INTEGER NOT NULL DEFAULT 0,
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX members_user ON members(user_id, active);
  CREATE TABLE messages (
    conv_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    cmid TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (conv_id, seq)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX messages_idem ON messages(sender, cmid);
  CREATE TABLE events (
    user_id TEXT NOT NULL,
    cursor INTEGER NOT NULL,
    kind TEXT NOT NULL,
    conv_id TEXT,
    seq INTEGER,
    payload TEXT,
    PRIMARY KEY (user_id, cursor)
  ) WITHOUT ROWID;
  `,
  // Runs of a large group's messages in a user's log (sqlite/runs.ts): one row per stretch instead
  // of one event row per message and member.
  `
  CREATE TABLE runs (
    user_id TEXT NOT NULL,
    base_cursor INTEGER NOT NULL,
    conv_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER,
    end_cursor INTEGER,
    PRIMARY KEY (user_id, base_cursor)
  ) WITHOUT ROWID;
  CREATE UNIQUE INDEX runs_open ON runs(user_id) WHERE last_seq IS NULL;
  CREATE INDEX runs_end ON runs(user_id, end_cursor);
  `,
  // A user's log head and delivered cursor, bumped by nearly every commit, move from the wide
  // users row (handle, password hash) to a narrow one: more of them share a page, so a commit
  // writes fewer pages, and a lookup is one B-tree search instead of index + table.
  `
  CREATE TABLE heads (
    user_id TEXT PRIMARY KEY,
    head INTEGER NOT NULL DEFAULT 0,
    delivered_cursor INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;
  INSERT INTO heads (user_id, head, delivered_cursor) SELECT id, head, delivered_cursor FROM users;
  ALTER TABLE users DROP COLUMN head;
  ALTER TABLE users DROP COLUMN delivered_cursor;
  `,
  // The open runs on one conversation, in one range read: a large group's append finds the
  // members whose run continues without a lookup per member.
  `
  CREATE INDEX runs_open_conv ON runs(conv_id, user_id, base_cursor, first_seq) WHERE last_seq IS NULL;
  `,
];
