"""picd: ultra-low-bitrate screen, document and photo compression."""
