"""The one place mcubench reads ELF files: section sizes (flash, static RAM, heap, stack) and
the symbols that occupy flash (for a runtime's flash split)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile


@dataclass(frozen=True)
class ElfSizes:
    """Where an image's bytes go. flash = text + rodata + initialised data (its load image);
    static RAM = data + bss; heap and stack are reserved RAM regions of their own."""

    text: int
    rodata: int
    data: int
    bss: int
    heap: int
    stack: int

    @property
    def flash(self) -> int:
        return self.text + self.rodata + self.data

    @property
    def static_ram(self) -> int:
        return self.data + self.bss

    @property
    def ram_reserved(self) -> int:
        """Everything the image claims in RAM: static data, heap and stack."""
        return self.static_ram + self.heap + self.stack

    def to_dict(self) -> dict[str, int]:
        return {
            "text": self.text, "rodata": self.rodata, "data": self.data, "bss": self.bss,
            "heap": self.heap, "stack": self.stack, "flash": self.flash, "static_ram": self.static_ram,
        }


def elf_sizes(elf: Path) -> ElfSizes:
    text = rodata = data = bss = heap = stack = 0
    with open(elf, "rb") as f:
        elffile = ELFFile(f)
        # Load address of each section: a writable section that is loaded where it runs
        # (e.g. .init_array in flash) is flash-resident, not RAM data copied at start-up.
        segments = [s for s in elffile.iter_segments() if s["p_type"] == "PT_LOAD"]

        def load_address(section) -> int:
            addr = section["sh_addr"]
            for seg in segments:
                if seg["p_vaddr"] <= addr < seg["p_vaddr"] + max(seg["p_memsz"], 1):
                    return addr - seg["p_vaddr"] + seg["p_paddr"]
            return addr

        for section in elffile.iter_sections():
            flags = section["sh_flags"]
            size = section["sh_size"]
            if not flags & SH_FLAGS.SHF_ALLOC or size == 0:
                continue
            name = section.name
            if name.startswith(".stack") or name == ".stack_dummy":
                stack += size
            elif name.startswith(".heap"):
                heap += size
            elif section["sh_type"] == "SHT_NOBITS":
                bss += size
            elif flags & SH_FLAGS.SHF_WRITE and load_address(section) != section["sh_addr"]:
                data += size
            elif flags & SH_FLAGS.SHF_EXECINSTR:
                text += size
            else:
                rodata += size
    return ElfSizes(text, rodata, data, bss, heap, stack)


@dataclass(frozen=True)
class FlashSymbol:
    """A function or object in a loaded, initialised section (so it occupies flash)."""

    name: str
    kind: str  # "STT_FUNC" or "STT_OBJECT"
    size: int
    local: bool
    source_file: str  # the STT_FILE symbol before it (local symbols only), else ""


def flash_symbols(elf: Path) -> Iterator[FlashSymbol]:
    """Functions and objects in flash-resident sections, in symbol-table order. A local symbol
    follows the STT_FILE symbol of its source file; a global one has no source file."""
    with open(elf, "rb") as f:
        elf_file = ELFFile(f)
        flash_sections = {
            i for i, s in enumerate(elf_file.iter_sections())
            if s["sh_flags"] & SH_FLAGS.SHF_ALLOC and s["sh_type"] != "SHT_NOBITS"
        }
        symtab = elf_file.get_section_by_name(".symtab")
        current = ""
        for sym in symtab.iter_symbols() if symtab else []:
            kind = sym["st_info"]["type"]
            if kind == "STT_FILE":
                current = Path(sym.name).name
                continue
            if kind not in ("STT_FUNC", "STT_OBJECT") or sym["st_shndx"] not in flash_sections:
                continue
            local = sym["st_info"]["bind"] == "STB_LOCAL"
            yield FlashSymbol(sym.name, kind, sym["st_size"], local, current if local else "")
