"""Pexip Infinity: management REST API client, event sink parsing and the bridge adapter."""

from vcorch.mcu_adapter.pexip.adapter import PexipBridge

__all__ = ["PexipBridge"]
