-- The conversation log (actors_common::log): a message's place is its `seq`
-- (the offset of its record in the conversation's partition), membership
-- events travel in that same order, and ingest keeps its own offsets here.

-- Messages from before this migration get seqs below any offset (offsets
-- start at 0), in their old id order.
ALTER TABLE messages ADD COLUMN seq bigint;
UPDATE messages m SET seq = o.n - 4611686018427387904
  FROM (SELECT conversation_id, id,
               row_number() OVER (PARTITION BY conversation_id ORDER BY id) AS n
          FROM messages) o
 WHERE m.conversation_id = o.conversation_id AND m.id = o.id;
ALTER TABLE messages ALTER COLUMN seq SET NOT NULL;
-- History pages are range scans of this index; seq is unique per conversation.
CREATE UNIQUE INDEX messages_conversation_seq_key ON messages (conversation_id, seq);
-- A resend is recognised within a window of the log (actors_common::log::WINDOW),
-- not forever, so the pair is no longer unique; this index finds the earlier one.
ALTER TABLE messages DROP CONSTRAINT messages_sender_client_key;
CREATE INDEX messages_resend_idx ON messages (sender_id, client_id, seq) WHERE client_id IS NOT NULL;

-- Resends the log admitted (not stored as messages): a resend is a
-- duplicate when an admissible record with its key lies within the window
-- before it, whether that one was stored or was itself a resend.
CREATE TABLE resends (
    conversation_id uuid   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint NOT NULL,
    sender_id       uuid   NOT NULL,
    client_id       uuid   NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE INDEX resends_key_idx ON resends (sender_id, client_id, seq);

-- Membership as the log orders it, written only by ingest as it reads the
-- log: the latest membership event of each (conversation, user) it has
-- read (by version: a copy an outbox sent again changes nothing). It
-- decides whether a sender was a participant at a message's point of the
-- log, and from where a participant may see history (seq > seq).
CREATE TABLE log_members (
    conversation_id uuid    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid    NOT NULL,
    active          boolean NOT NULL,
    seq             bigint  NOT NULL,
    version         bigint  NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
-- Members from before: visible from their joined_at, expressed as a seq.
INSERT INTO log_members (conversation_id, user_id, active, version, seq)
SELECT p.conversation_id, p.user_id, p.left_at IS NULL, 0,
       COALESCE((SELECT max(m.seq) FROM messages m
                  WHERE m.conversation_id = p.conversation_id AND m.created_at < p.joined_at),
                -4611686018427387905)
  FROM participants p;

-- Where ingest is in each partition: written in the same transaction as the
-- rows it stored, so a restart resumes exactly there (exactly-once storage).
CREATE TABLE ingest_offsets (
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Outbox rows now name the record kind (the `chat.event` header); all go to
-- chat.messages, keyed by conversation, published in id order per conversation.
ALTER TABLE outbox ADD COLUMN event text;
UPDATE outbox SET event = 'participants_added',
                  payload = jsonb_build_object(
                      'conversation_id', payload->'conversation_id',
                      'user_ids', jsonb_build_array(payload->'user_id'),
                      'joined_at', payload->'joined_at',
                      'version', payload->'version',
                      'created', (payload->>'version') = '1')
 WHERE topic = 'chat.participants.created';
UPDATE outbox SET event = 'participant_removed' WHERE topic = 'chat.participants.removed';
UPDATE outbox SET topic = 'chat.messages';
ALTER TABLE outbox ALTER COLUMN event SET NOT NULL;
CREATE INDEX outbox_key_idx ON outbox (key, id);
