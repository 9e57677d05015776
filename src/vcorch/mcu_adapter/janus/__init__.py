"""Janus (Debian package ``janus``) as a bridge.

Entry point: ``vcorch.mcu_adapter.janus:JanusBridge``.
"""

from vcorch.mcu_adapter.janus.adapter import JanusBridge, JanusBrowserRoom

__all__ = ["JanusBridge", "JanusBrowserRoom"]
