ALTER TABLE conversations DROP COLUMN participant_count;
