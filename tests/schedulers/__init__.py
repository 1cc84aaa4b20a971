"""Scheduler tests (a package, so that its module names do not clash with other test folders')."""
