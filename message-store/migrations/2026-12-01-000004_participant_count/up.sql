-- How many active participants each conversation has, kept by the database
-- itself: statement-level triggers on participants add what a statement
-- activated and take off what it ended, whichever code (or version of
-- message-store, during a rolling start) wrote it. A list page reads the
-- count with the row instead of counting a large group's index entries per
-- entry (50 groups of 10,000 people: 69 ms a page counting, see
-- BENCHMARKS.md). A new row starts at 0 and its first participants are
-- counted in by the insert that adds them. The statements that change
-- membership already hold the conversation's row lock.
ALTER TABLE conversations ADD COLUMN participant_count bigint NOT NULL DEFAULT 0;

CREATE FUNCTION participants_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE conversations c SET participant_count = c.participant_count + d.n
      FROM (SELECT conversation_id, count(*) AS n FROM new_rows
             WHERE left_at IS NULL GROUP BY conversation_id) d
     WHERE c.id = d.conversation_id;
  ELSIF TG_OP = 'UPDATE' THEN
    UPDATE conversations c SET participant_count = c.participant_count + d.n
      FROM (SELECT conversation_id, sum(n)::bigint AS n FROM (
              SELECT conversation_id, count(*) AS n FROM new_rows
               WHERE left_at IS NULL GROUP BY conversation_id
              UNION ALL
              SELECT conversation_id, -count(*) FROM old_rows
               WHERE left_at IS NULL GROUP BY conversation_id) moved
             GROUP BY conversation_id) d
     WHERE c.id = d.conversation_id AND d.n <> 0;
  ELSE
    UPDATE conversations c SET participant_count = c.participant_count - d.n
      FROM (SELECT conversation_id, count(*) AS n FROM old_rows
             WHERE left_at IS NULL GROUP BY conversation_id) d
     WHERE c.id = d.conversation_id;
  END IF;
  RETURN NULL;
END $$;

-- One trigger per event: a trigger with transition tables has one event.
CREATE TRIGGER participants_count_insert AFTER INSERT ON participants
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION participants_count();
CREATE TRIGGER participants_count_update AFTER UPDATE ON participants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION participants_count();
CREATE TRIGGER participants_count_delete AFTER DELETE ON participants
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION participants_count();

UPDATE conversations c
   SET participant_count = (SELECT count(*) FROM participants p
                             WHERE p.conversation_id = c.id AND p.left_at IS NULL);
