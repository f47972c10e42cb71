-- One database per service on one server, created at first start.
CREATE DATABASE chat_users;
CREATE DATABASE chat_messages;
CREATE DATABASE chat_bff;
