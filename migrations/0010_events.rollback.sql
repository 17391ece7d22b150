-- depends: 0009_personal_tokens
DROP TABLE reminder_events;
DROP TABLE event_streams;
DROP TABLE event_tickets;
