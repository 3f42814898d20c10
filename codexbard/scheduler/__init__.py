"""Background jobs: one poll job per enabled provider account, the status job and the retention job.

service.py owns the lifecycle and single-flight polls, poll.py runs one poll (pipeline, transition,
one store transaction) and gates refreshes, jobs.py schedules (backoff, status, retention, credential
re-check), backoff.py computes the waits.
"""

from codexbard.scheduler.service import PollScheduler

__all__ = ["PollScheduler"]
