"""localcloud IoT Core: device shadows, the message broker and the rules engine."""
