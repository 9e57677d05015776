"""Attendance: who took part in a meeting, from every bridge's reports, polls, manual entries
and people's check-ins; per-site results and exports (docs/attendance.md)."""
