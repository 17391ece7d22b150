-- depends: 0006_task_counts
DROP TABLE reminder_events;
DROP TABLE event_streams;
DROP TABLE event_tickets;
