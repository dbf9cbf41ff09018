"""The host side of the serial link: the protocol (docs/protocol.md), transports, run logs."""
