DROP TABLE user_conversation_counts;
