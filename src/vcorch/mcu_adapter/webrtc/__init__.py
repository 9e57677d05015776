"""vcorch's built-in WebRTC bridge (aiortc): see :mod:`vcorch.mcu_adapter.webrtc.adapter`."""

from vcorch.mcu_adapter.webrtc.adapter import Joined, OfferRefused, WebRtcBridge

__all__ = ["Joined", "OfferRefused", "WebRtcBridge"]
