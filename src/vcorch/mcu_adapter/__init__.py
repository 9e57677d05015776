"""Bridges: the contract every bridge kind implements, and the kinds vcorch ships.

- ``base``: the :class:`~vcorch.mcu_adapter.base.Bridge` contract, its result types and errors;
- ``retry``: timeout and bounded retries shared by every client;
- ``registry``: configured bridges loaded through the ``vcorch.bridges`` entry points;
- ``simulated``, ``cisco_cms``, ``jitsi``, ``janus``: one package per bridge kind.
"""
