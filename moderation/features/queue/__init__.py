"""The speaker queue: requests for the floor, the order that treats room and online fairly, the floor, undo."""
