-- depends: 0008_time
DROP TABLE reminder_events;
DROP TABLE event_streams;
DROP TABLE event_tickets;
