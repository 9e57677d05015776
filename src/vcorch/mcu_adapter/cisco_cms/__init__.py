"""Cisco Meeting Server: REST API client, CDR parsing and the bridge adapter."""

from vcorch.mcu_adapter.cisco_cms.adapter import CiscoCmsBridge

__all__ = ["CiscoCmsBridge"]
