"""Background jobs: a table of jobs and their transitions, kinds run by the scheduler process."""
