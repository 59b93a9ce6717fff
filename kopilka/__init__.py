"""Kopilka — an open-source multi-merchant loyalty and bonus platform."""

__version__ = "0.1.0"
