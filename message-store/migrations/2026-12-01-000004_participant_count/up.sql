-- How many active participants each conversation has, kept by the
-- transactions that change membership (they hold the conversation's row
-- lock already): a list page reads it with the row instead of counting a
-- large group's index entries per entry (50 groups of 10,000 people: a page
-- cost 73 ms counting, see BENCHMARKS.md).
ALTER TABLE conversations ADD COLUMN participant_count bigint NOT NULL DEFAULT 0;
UPDATE conversations c
   SET participant_count = (SELECT count(*) FROM participants p
                             WHERE p.conversation_id = c.id AND p.left_at IS NULL);
