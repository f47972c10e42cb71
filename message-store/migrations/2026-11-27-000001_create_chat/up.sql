-- Conversations, participants, messages, and the outbox of participant events.

CREATE TABLE conversations (
    id                 uuid        PRIMARY KEY,
    kind               text        NOT NULL CHECK (kind IN ('private', 'group')),
    name               text,
    -- For private conversations, the pair in a fixed order (low < high): the
    -- unique index below makes "one private conversation per pair, ever" a
    -- property of the database, whatever requests race.
    private_low        uuid,
    private_high       uuid,
    created_at         timestamptz NOT NULL,
    -- Bumped by every transaction that changes membership; carried by events.
    membership_version bigint      NOT NULL DEFAULT 0,
    CHECK ((kind = 'private') = (private_low IS NOT NULL AND private_high IS NOT NULL)),
    CHECK (kind = 'group' OR name IS NULL),
    CHECK (private_low IS NULL OR private_low < private_high)
);
CREATE UNIQUE INDEX conversations_private_pair_key
    ON conversations (private_low, private_high) WHERE kind = 'private';

-- A row per (conversation, user) that has ever joined. `left_at` is set on
-- removal (the row stays, so persistence can tell whether a sender was a
-- participant when a message was written); re-joining resets `joined_at`.
CREATE TABLE participants (
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL,
    joined_at       timestamptz NOT NULL,
    left_at         timestamptz,
    PRIMARY KEY (conversation_id, user_id)
);
-- "My conversations": active memberships of a user.
CREATE INDEX participants_user_active_idx
    ON participants (user_id, conversation_id) WHERE left_at IS NULL;

-- Message ids are UUIDv7 (time-ordered): history pages are range scans of
-- the primary key (conversation_id, id), the same cost at any depth. There
-- is deliberately no index on id alone: a message's id never changes
-- conversation, so the composite key already makes a redelivered record a
-- conflict, and with no id-only index the planner cannot choose to walk all
-- conversations' messages filtering for one.
CREATE TABLE messages (
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    id              uuid        NOT NULL,
    sender_id       uuid        NOT NULL,
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL,
    client_id       uuid,
    PRIMARY KEY (conversation_id, id),
    CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_id)
);

-- Participant events, written in the same transaction as the change and
-- published to Kafka afterwards (deleted once the broker acknowledged them).
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    topic      text        NOT NULL,
    key        text        NOT NULL,
    payload    jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
