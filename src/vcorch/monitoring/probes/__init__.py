"""Probes, one per endpoint kind: each returns a ProbeResult, never raising for a down one."""
