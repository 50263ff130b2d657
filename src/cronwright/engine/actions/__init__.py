"""Job actions and limit notifications: what happens when a job starts, ends or breaks a limit."""
