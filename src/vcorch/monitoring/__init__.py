"""Endpoint and bridge health monitoring.

- ``probes``: one probe per endpoint kind (SIP OPTIONS over UDP/TCP, H.323 TCP connect,
  HTTP(S) management interface, WebRTC media through a Janus EchoTest), each returning a
  :class:`~vcorch.monitoring.probes.result.ProbeResult`; ``probes.sip_mux`` carries
  thousands of SIP transactions over one UDP socket for sweeps.
- ``hysteresis``: the pure up/down state machine.
- ``schedule``: pure planning of when each endpoint is next due.
- ``sweep``: one sweep over many endpoints, folding results into state.
- ``meetings``: what monitoring asks the meeting side (which endpoints are hot, which rooms
  have meetings to alert about), as a protocol the meeting side implements.
- ``service``: the monitoring service (``policy``, ``probing`` and ``reads`` are its parts).
"""
