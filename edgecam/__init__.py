"""edgecam: an AI instant-camera daemon for Raspberry Pi and Jetson photo kiosks."""

__version__ = "0.1.0"
