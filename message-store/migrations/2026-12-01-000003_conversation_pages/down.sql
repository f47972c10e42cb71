DROP INDEX participants_active_by_join;
ALTER TABLE conversations DROP COLUMN activity_at;
