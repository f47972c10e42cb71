DROP TRIGGER participants_count_insert ON participants;
DROP TRIGGER participants_count_update ON participants;
DROP TRIGGER participants_count_delete ON participants;
DROP FUNCTION participants_count();
ALTER TABLE conversations DROP COLUMN participant_count;
