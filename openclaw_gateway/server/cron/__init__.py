"""Cron automations: schedules, job definitions, the store and the scheduler."""
