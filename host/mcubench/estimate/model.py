"""The cost table as data: core costs and per-board assumptions (clock, wait states, cache)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mcubench.core.errors import UserError
from mcubench.core.paths import boards_dir

CORE_COSTS_PATH = Path("cores") / "cortex-m4f.json"

# Keys the plugin requires (mcb_cycles.c checks the same list).
REQUIRED_COSTS = (
    "alu mul mul_long div ldr ldr_pipelined str str_reg_offset ldrd strd ldm_base stm_base "
    "per_reg exclusive branch table_branch it it_folded hint barrier vfp_alu vfp_mac vfp_div "
    "vfp_sqrt vldr vstr vldm_base vstm_base vmov_core vmov_core2 unknown refill "
    "refill_unaligned32 addr_dep_stall"
).split()


@dataclass(frozen=True)
class BoardAssumption:
    """What the estimate assumes about a board beyond its core."""

    board: str
    clock_hz: int
    flash_wait_states: int
    icache: str  # "on", "off", "none"
    code_in_flash: bool
    assumption: str  # one sentence, shown next to every estimate

    def to_dict(self) -> dict:
        return {
            "board": self.board,
            "clock_hz": self.clock_hz,
            "flash_wait_states": self.flash_wait_states,
            "icache": self.icache,
            "code_in_flash": self.code_in_flash,
            "assumption": self.assumption,
        }


@dataclass(frozen=True)
class CostModel:
    core: str
    model_version: str
    costs: dict[str, int]
    boards: dict[str, BoardAssumption]

    def board(self, board_id: str) -> BoardAssumption:
        try:
            return self.boards[board_id]
        except KeyError:
            raise UserError(
                f"no cycle-estimate assumptions for board `{board_id}`",
                f"known: {', '.join(sorted(self.boards))} (boards/{CORE_COSTS_PATH})",
            ) from None

    def flat_costs(self, board_id: str) -> str:
        """The `key value` lines the plugin reads: core costs plus the board's additions."""
        b = self.board(board_id)
        lines = [f"model_version {self.model_version}", f"board {b.board}"]
        lines += [f"{k} {v}" for k, v in self.costs.items()]
        lines += [f"flash_wait_states {b.flash_wait_states}", f"code_in_flash {int(b.code_in_flash)}"]
        return "\n".join(lines) + "\n"


def _parse(data: dict, path: Path) -> CostModel:
    try:
        costs = {k: int(v["cycles"]) for k, v in data["costs"].items()}
        missing = [k for k in REQUIRED_COSTS if k not in costs]
        unknown = [k for k in costs if k not in REQUIRED_COSTS]
        if missing or unknown:
            raise ValueError(f"missing {missing}, unknown {unknown}")
        if any(v < 0 for v in costs.values()):
            raise ValueError("negative cost")
        boards = {
            bid: BoardAssumption(
                board=bid,
                clock_hz=int(b["clock_hz"]),
                flash_wait_states=int(b["flash_wait_states"]),
                icache=str(b["icache"]),
                code_in_flash=bool(b["code_in_flash"]),
                assumption=str(b["assumption"]),
            )
            for bid, b in data["boards"].items()
        }
        return CostModel(core=data["core"], model_version=data["model_version"], costs=costs, boards=boards)
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"cost table {path} is malformed: {exc}", "compare it with docs/cycle-estimate.md") from None


@lru_cache(maxsize=4)
def _load(path: Path) -> CostModel:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read cost table {path}: {exc}", "is the checkout complete?") from None
    return _parse(data, path)


def load_cost_model(path: Path | None = None) -> CostModel:
    return _load(Path(path) if path else boards_dir() / CORE_COSTS_PATH)
