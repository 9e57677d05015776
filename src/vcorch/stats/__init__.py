"""Online-meeting statistics against the programme's target: what counts as held, declared
online and verified online (:mod:`.rules`), the per-occurrence table and its monthly summary
kept by the leader (:mod:`.refresh`), the report (:mod:`.report`), open data, exports and the
leadership dashboard (docs/statistics.md)."""
