"""mcu_adapter."""
