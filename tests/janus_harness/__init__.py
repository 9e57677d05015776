"""Runs a real Janus (Debian package ``janus``) on 127.0.0.1 and joins it with aiortc peers.

``server`` writes a private configuration and starts the process, ``receiver`` is the HTTP
endpoint its sample event handler posts to, ``peer`` is an aiortc AudioBridge participant,
``fixtures`` wires them as pytest fixtures.
"""
