DROP INDEX outbox_key_idx;
ALTER TABLE outbox DROP COLUMN event;
DROP TABLE ingest_offsets;
DROP TABLE log_members;
DROP TABLE resends;
DROP INDEX messages_resend_idx;
DROP INDEX messages_conversation_seq_key;
ALTER TABLE messages DROP COLUMN seq;
ALTER TABLE messages ADD CONSTRAINT messages_sender_client_key UNIQUE (sender_id, client_id);
