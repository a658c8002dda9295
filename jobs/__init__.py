"""Background jobs (RQ). Each takes JSON-serialisable ids, opens its own db session
through `jobs.context.job_db`, calls domain functions, and is safe to run twice."""
