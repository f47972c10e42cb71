-- Conversation lists are pages, keyset on (activity_at, id) newest first, so
-- a user in thousands of conversations still gets a first page at once.
-- activity_at is the conversation's creation or its newest stored message,
-- whichever is later; ingest moves it forward in the transaction that
-- stores the messages.
ALTER TABLE conversations ADD COLUMN activity_at timestamptz;
UPDATE conversations c
   SET activity_at = greatest(c.created_at,
         coalesce((SELECT max(m.created_at) FROM messages m WHERE m.conversation_id = c.id),
                  c.created_at));
ALTER TABLE conversations ALTER COLUMN activity_at SET NOT NULL;

-- A list entry names a group's first participants (joining order) and how
-- many there are: both read from this index, never from every row.
CREATE INDEX participants_active_by_join
    ON participants (conversation_id, joined_at, user_id) WHERE left_at IS NULL;
