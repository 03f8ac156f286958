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
  // 4: an append's reads and its writes under the locks as two function calls (messages.ts), and
  // an ack batch's settle under the conversations' locks as one (receipts.ts), so an append makes
  // three round trips instead of seven to nine and an ack batch holds its locks for two. Each statement in a (volatile)
  // function takes a fresh snapshot: what is read after a lock sees everything committed before
  // the lock was granted, as a separate statement would.
  `
  CREATE FUNCTION parley_append_prepare(
    p_convs text[], p_extra text[], p_senders text[], p_cmids text[], p_cand_convs text[], p_cand_users text[]
  ) RETURNS TABLE (o_k smallint, o_s1 text, o_s2 text, o_n1 bigint, o_n2 bigint, o_n3 bigint)
  LANGUAGE plpgsql AS $fn$
  BEGIN
    -- 0: the conversations appended to (id, last_seq, agg_delivered, agg_read), and 4: those a
    -- previous attempt found held by another transaction (parley_settle, kind 9), locked together
    -- in id order
    RETURN QUERY SELECT (CASE WHEN c.id = ANY(p_convs) THEN 0 ELSE 4 END)::smallint, c.id, NULL::text, c.last_seq, c.agg_delivered, c.agg_read
      FROM conversations c WHERE c.id = ANY(p_convs) OR c.id = ANY(p_extra) ORDER BY c.id FOR NO KEY UPDATE;
    -- 1: copies already stored (sender, cmid, seq, ts)
    RETURN QUERY SELECT 1::smallint, m.sender, m.cmid, m.seq, m.ts, NULL::bigint
      FROM messages m JOIN unnest(p_senders, p_cmids) AS q(sender, cmid) ON m.sender = q.sender AND m.cmid = q.cmid;
    -- 2: active members (conversation, user) with their open run on it (base cursor, first seq)
    RETURN QUERY SELECT 2::smallint, m.conv_id, m.user_id, r.base_cursor, r.first_seq, NULL::bigint
      FROM members m LEFT JOIN runs r ON r.conv_id = m.conv_id AND r.user_id = m.user_id AND r.last_seq IS NULL
     WHERE m.conv_id = ANY(p_convs) AND m.active;
    -- 3: the senders' watermarks (conversation, user, delivered, read)
    RETURN QUERY SELECT 3::smallint, m.conv_id, m.user_id, greatest(m.delivered, coalesce(d.delivered, 0)), m.read, NULL::bigint
      FROM unnest(p_cand_convs, p_cand_users) AS s(conv_id, user_id)
      JOIN members m ON m.conv_id = s.conv_id AND m.user_id = s.user_id AND m.active
      LEFT JOIN deliveries d ON d.conv_id = m.conv_id AND d.user_id = m.user_id;
  END $fn$;

  -- The all-members minimums of conversations the caller has locked, stored where they advanced,
  -- and the receipts due (conversation, recipient, delivered, read) in that order: each active
  -- member who sent a message whose ticks changed (receipts.ts).
  CREATE FUNCTION parley_receipts(p_convs text[])
  RETURNS TABLE (o_id text, o_sender text, o_d bigint, o_r bigint)
  LANGUAGE plpgsql AS $fn$
  BEGIN
    RETURN QUERY WITH mins AS (
      SELECT m.conv_id, min(greatest(m.delivered, coalesce(d.delivered, 0))) AS d, min(m.read) AS r
        FROM members m LEFT JOIN deliveries d ON d.conv_id = m.conv_id AND d.user_id = m.user_id
       WHERE m.conv_id = ANY(p_convs) AND m.active GROUP BY m.conv_id
    ), adv AS (
      SELECT c.id, c.agg_delivered AS old_d, c.agg_read AS old_r, greatest(c.agg_delivered, mins.d) AS d, greatest(c.agg_read, mins.r) AS r
        FROM conversations c JOIN mins ON mins.conv_id = c.id
       WHERE mins.d > c.agg_delivered OR mins.r > c.agg_read
    ), upd AS (
      UPDATE conversations c SET agg_delivered = adv.d, agg_read = adv.r FROM adv WHERE c.id = adv.id
    )
    SELECT adv.id, s.sender, adv.d, adv.r
      FROM adv
      CROSS JOIN LATERAL (
        SELECT m.sender FROM messages m WHERE m.conv_id = adv.id AND m.seq > adv.old_d AND m.seq <= adv.d
        UNION
        SELECT m.sender FROM messages m WHERE m.conv_id = adv.id AND m.seq > adv.old_r AND m.seq <= adv.r
      ) s
      JOIN members mm ON mm.conv_id = adv.id AND mm.user_id = s.sender AND mm.active
     ORDER BY adv.id, s.sender;
  END $fn$;

  -- The tail of every write that may move receipts: the minimums of p_advanced recomputed
  -- (parley_receipts) with their receipts, then the users whose logs get a write locked (p_lock and
  -- the receipts' recipients), their open runs and those runs' conversations read under the locks.
  -- The caller holds the locks of p_held (a superset of p_advanced).
  CREATE FUNCTION parley_settle(p_advanced text[], p_lock text[], p_held text[])
  RETURNS TABLE (o_k smallint, o_s1 text, o_s2 text, o_n1 bigint, o_n2 bigint)
  LANGUAGE plpgsql AS $fn$
  DECLARE
    v_users text[] := p_lock;
    v_ids text[];
    v_senders text[];
    v_d bigint[];
    v_r bigint[];
    v_got text[];
    v_got_last bigint[];
  BEGIN
    IF cardinality(p_advanced) > 0 THEN
      SELECT array_agg(x.o_id ORDER BY x.n), array_agg(x.o_sender ORDER BY x.n), array_agg(x.o_d ORDER BY x.n), array_agg(x.o_r ORDER BY x.n)
        INTO v_ids, v_senders, v_d, v_r
        FROM parley_receipts(p_advanced) WITH ORDINALITY AS x(o_id, o_sender, o_d, o_r, n);
      -- 0: receipts (conversation, recipient, delivered, read), in that order
      RETURN QUERY SELECT 0::smallint, x.id, x.sender, x.d, x.r FROM unnest(v_ids, v_senders, v_d, v_r) AS x(id, sender, d, r);
      v_users := v_users || coalesce(v_senders, '{}');
    END IF;
    -- 1: the users whose logs get a write (id, head), locked in id order
    RETURN QUERY SELECT 1::smallint, u.id, NULL::text, u.head, NULL::bigint
      FROM users u WHERE u.id = ANY(v_users) ORDER BY u.id FOR NO KEY UPDATE;
    -- 2: their open runs (user, conversation, base cursor, first seq), read under their locks
    RETURN QUERY SELECT 2::smallint, r.user_id, r.conv_id, r.base_cursor, r.first_seq
      FROM runs r WHERE r.user_id = ANY(v_users) AND r.last_seq IS NULL;
    -- 3: the conversations of those runs not held yet (id, last_seq), FOR SHARE (enough to stop
    -- their appends), but only where no other transaction holds them: waiting here, with users
    -- locked, would break the conversations-before-users lock order and can deadlock with an
    -- append to such a conversation that needs one of these users (PostgreSQL breaks that only
    -- after deadlock_timeout, a second).
    WITH got AS (
      SELECT c.id, c.last_seq FROM conversations c
       WHERE c.id IN (SELECT r.conv_id FROM runs r WHERE r.user_id = ANY(v_users) AND r.last_seq IS NULL)
         AND c.id <> ALL(p_held)
       ORDER BY c.id FOR SHARE SKIP LOCKED
    )
    SELECT array_agg(got.id), array_agg(got.last_seq) INTO v_got, v_got_last FROM got;
    RETURN QUERY SELECT 3::smallint, x.id, NULL::text, x.last_seq, NULL::bigint FROM unnest(v_got, v_got_last) AS x(id, last_seq);
    -- 9: those held elsewhere (id): the caller rolls back and, in its next attempt, locks them
    -- with its own conversations, before any user
    RETURN QUERY SELECT DISTINCT 9::smallint, r.conv_id, NULL::text, NULL::bigint, NULL::bigint
      FROM runs r
     WHERE r.user_id = ANY(v_users) AND r.last_seq IS NULL
       AND r.conv_id <> ALL(p_held) AND r.conv_id <> ALL(coalesce(v_got, '{}'));
  END $fn$;

  -- An ack batch's settle: the conversations whose deliveries moved, and those a previous attempt
  -- found held elsewhere (p_extra, kind 9), locked in id order (k = 4: id, last_seq), then
  -- parley_settle for the former.
  CREATE FUNCTION parley_ack_settle(p_convs text[], p_extra text[])
  RETURNS TABLE (o_k smallint, o_s1 text, o_s2 text, o_n1 bigint, o_n2 bigint)
  LANGUAGE plpgsql AS $fn$
  BEGIN
    RETURN QUERY SELECT 4::smallint, c.id, NULL::text, c.last_seq, NULL::bigint
      FROM conversations c WHERE c.id = ANY(p_convs) OR c.id = ANY(p_extra) ORDER BY c.id FOR NO KEY UPDATE;
    RETURN QUERY SELECT * FROM parley_settle(p_convs, '{}', p_convs || p_extra);
  END $fn$;

  CREATE FUNCTION parley_append_store(
    p_conv text[], p_seq bigint[], p_sender text[], p_cmid text[], p_kind text[], p_body text[], p_ts bigint[],
    p_cid text[], p_clast bigint[], p_cts bigint[],
    p_oconv text[], p_ouser text[], p_oseq bigint[],
    p_lock text[], p_advanced text[], p_held text[]
  ) RETURNS TABLE (o_k smallint, o_s1 text, o_s2 text, o_n1 bigint, o_n2 bigint)
  LANGUAGE plpgsql AS $fn$
  BEGIN
    -- The messages, the conversations' last_seq, the senders' own watermarks.
    WITH ins AS (
      INSERT INTO messages (conv_id, seq, sender, cmid, kind, body, ts)
      SELECT * FROM unnest(p_conv, p_seq, p_sender, p_cmid, p_kind, p_body, p_ts)
    ), conv AS (
      UPDATE conversations c SET last_seq = v.last_seq, active_at = greatest(c.active_at, v.ts)
        FROM unnest(p_cid, p_clast, p_cts) AS v(id, last_seq, ts)
       WHERE c.id = v.id
    )
    UPDATE members m SET delivered = greatest(m.delivered, v.seq), read = greatest(m.read, v.seq)
      FROM unnest(p_oconv, p_ouser, p_oseq) AS v(conv_id, user_id, seq)
     WHERE m.conv_id = v.conv_id AND m.user_id = v.user_id;
    RETURN QUERY SELECT * FROM parley_settle(p_advanced, p_lock, p_held);
  END $fn$;
  `,
];
