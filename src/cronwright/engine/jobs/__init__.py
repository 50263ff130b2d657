"""Jobs: launching, the state machine, running on the local worker, finishing, and restart recovery."""
