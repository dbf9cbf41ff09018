"""mcubench's project-local PlatformIO platform: bare-metal Cortex-M with the system toolchain.

It declares no packages, so `pio run` never asks the registry for a toolchain; the builder
(builder/main.py) calls arm-none-eabi-* from PATH.
"""

from platformio.public import PlatformBase


class McubenchPlatform(PlatformBase):
    def is_embedded(self):
        return True
