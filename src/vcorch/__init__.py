"""vcorch: video-conferencing orchestration for the programme's meetings."""

__version__ = "0.1.0"
