"""Background jobs: one poll job per enabled provider account, the status job and the retention job."""
