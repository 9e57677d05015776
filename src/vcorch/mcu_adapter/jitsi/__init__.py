"""Jitsi Meet: room tokens, mod_muc_size and videobridge client, event_sync events, adapter."""

from vcorch.mcu_adapter.jitsi.adapter import JitsiBridge

__all__ = ["JitsiBridge"]
