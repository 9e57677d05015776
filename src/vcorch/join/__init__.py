"""The WebRTC fallback's edge: join links resolved, ICE servers, the join page, WHIP signalling."""
