"""Reports: Markdown and a self-contained HTML page with plots (matplotlib, Agg).

    report = build_report(records, title="kws study")
    files = write_report(report, out_dir)       # report.md, report.html, plots/*.png

One variant is one label (model/recipe/runtime/board); when several results share a label the
newest is shown. Plots appear only when the results hold their data: latency per variant
(one panel per latency unit, never mixing instructions with cycles), memory per variant,
flash/RAM against the board's limits, accuracy vs model size, sparsity vs metric vs size,
and per-layer latency. The HTML embeds its PNGs as data URIs and loads nothing else.
"""

from __future__ import annotations

import base64
import functools
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mcubench.core.boards import all_board_ids, load_board
from mcubench.core.errors import UserError
from mcubench.core.fileio import write_bytes_atomic, write_text_atomic
from mcubench.core.paths import results_dir
from mcubench.core.templates import template_env
from mcubench.results.formats import human
from mcubench.results.record import Record, label

UNIT_TEXT = {
    "instructions": "instructions (emulated)",
    "cycles": "cycles",
    "virtual_cycles": "cycles of virtual time (emulated)",
    "virtual_us": "µs of virtual time (emulated)",
    "us": "µs",
}
MAX_LAYERS = 40  # per-layer plot: beyond this, only the op-type breakdown is readable


@dataclass
class Plot:
    id: str
    title: str
    caption: str
    png: bytes

    @property
    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)  # right-aligned columns


@dataclass
class Report:
    title: str
    generated: str
    variants: list[Record]  # one record per label, sorted by label
    plots: list[Plot]
    tables: list[Table]
    notes: list[str]

    def plot(self, plot_id: str) -> Plot | None:
        return next((p for p in self.plots if p.id == plot_id), None)


@dataclass
class ReportFiles:
    markdown: Path
    html: Path
    plots: list[Path]


# ---------------------------------------------------------------- selection

def newest_per_variant(records: list[Record]) -> list[Record]:
    by_label: dict[str, Record] = {}
    for record in sorted(records, key=lambda r: r["created"]):
        by_label[label(record)] = record
    return [by_label[k] for k in sorted(by_label)]


# ---------------------------------------------------------------- plots

def _figure(width: float, height: float):
    # Figure + Agg canvas directly: no pyplot global state, safe from any thread.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _eng():
    from matplotlib.ticker import EngFormatter

    return EngFormatter(sep="")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _short(name: str, limit: int = 48) -> str:
    return name if len(name) <= limit else "…" + name[-(limit - 1):]


def _parts(r: Record) -> list[str]:
    ident = r["identity"]
    model = ident["model"]["name"]
    flavour = ident.get("variant") or ident.get("recipe") or ""
    if flavour.startswith(model):  # "kws-ptq_int8" already names the model
        model = ""
    board = ident["board"] + (f"@{ident['memory_of']}" if ident.get("memory_of") else "")
    # The target is named only when it is not the board's own (e.g. renode for the nano33ble).
    return [model, flavour, ident["runtime"], board + ("" if ident["target"] == _default_target(ident["board"]) else f" ({ident['target']})")]


@functools.lru_cache(maxsize=None)
def _default_target(board_id: str) -> str | None:
    return load_board(board_id).default_target if board_id in all_board_ids() else None


def compact_labels(variants: list[Record]) -> list[str]:
    """Plot labels that keep only what differs between the variants (unique by construction)."""
    parts = [_parts(r) for r in variants]
    keep = [i for i in range(4) if len({p[i] for p in parts}) > 1] or [1 if any(p[1] for p in parts) else 0]
    labels = ["/".join(p[i] for i in keep if p[i]) or label(r) for p, r in zip(parts, variants)]
    counts = Counter(labels)
    seen: Counter = Counter()
    out = []
    for text in labels:
        seen[text] += 1
        out.append(text if counts[text] == 1 else f"{text} #{seen[text]}")
    return [_short(t) for t in out]


def plot_latency(variants: list[Record]) -> Plot:
    names = dict(zip((r["id"] for r in variants), compact_labels(variants)))
    by_unit: dict[str, list[Record]] = defaultdict(list)
    for r in variants:
        by_unit[r["latency"]["unit"]].append(r)
    groups = list(by_unit.items())
    fig = _figure(9, 1.0 + 0.4 * len(variants) + 0.9 * len(groups))
    axes = fig.subplots(len(groups), 1, squeeze=False, height_ratios=[len(g) + 1 for _, g in groups])[:, 0]
    for ax, (unit, group) in zip(axes, groups):
        med = [r["latency"]["median"] for r in group]
        lo = [m - r["latency"]["min"] for m, r in zip(med, group)]
        hi = [r["latency"]["max"] - m for m, r in zip(med, group)]
        bars = ax.barh([names[r["id"]] for r in group], med, xerr=[lo, hi], color="#4c72b0", capsize=3, height=0.6)
        ax.bar_label(bars, labels=[human(m) for m in med], padding=4, fontsize=8)
        sources = sorted({r["latency"]["source"] for r in group})
        ax.set_title(f"{UNIT_TEXT.get(unit, unit)} — source: {', '.join(sources)}", fontsize=9)
        ax.set_xlabel(f"median {unit} per run (whiskers: min–max)")
        ax.xaxis.set_major_formatter(_eng())
        ax.invert_yaxis()
        ax.margins(x=0.15)
    fig.suptitle("Latency per variant")
    return Plot("latency", "Latency per variant",
                "Median over the timed runs; whiskers span the fastest and slowest run. Each panel has one unit.",
                _png(fig))


def plot_memory(variants: list[Record]) -> Plot:
    import numpy as np

    series = [("flash", "flash_bytes", "#4c72b0"), ("static RAM", "static_ram_bytes", "#dd8452"),
              ("stack high-water", "stack_high_water_bytes", "#55a868"), ("arena used", "arena_used_bytes", "#c44e52")]
    present = [s for s in series if any(r["memory"].get(s[1]) is not None for r in variants)]
    fig = _figure(9, 1.4 + 0.5 * len(variants) * max(1, len(present)) / 2)
    ax = fig.subplots()
    y = np.arange(len(variants))
    height = 0.8 / len(present)
    for i, (name, key, color) in enumerate(present):
        values = [(r["memory"].get(key) or 0) / 1024 for r in variants]
        bars = ax.barh(y + i * height, values, height, label=name, color=color)
        ax.bar_label(bars, labels=[f"{v:,.1f}" for v in values], padding=3, fontsize=7)
    ax.set_yticks(y + height * (len(present) - 1) / 2, compact_labels(variants))
    ax.invert_yaxis()
    ax.set_xlabel("KiB")
    ax.margins(x=0.12)
    ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Memory per variant")
    return Plot("memory", "Memory per variant",
                "Flash and static RAM from the ELF sections; stack high-water from stack painting on the device; "
                "arena as the runtime reports it.", _png(fig))


def _ram_parts(r: Record) -> list[tuple[str, int]]:
    mem = r["memory"]
    heap = (mem.get("sections") or {}).get("heap", 0)
    stack = mem.get("stack_size_bytes") or mem.get("stack_high_water_bytes") or 0
    return [("static RAM", mem["static_ram_bytes"]), ("heap", heap), ("stack (reserved)", stack)]


def _flash_parts(r: Record) -> list[tuple[str, int]]:
    split = r["memory"].get("flash_split")
    if split:
        return [("model", split["model"]), ("runtime", split["runtime"]), ("rest", split["rest"])]
    return [("flash", r["memory"]["flash_bytes"])]


def plot_limits(variants: list[Record]) -> Plot:
    fig = _figure(9, 1.6 + 0.45 * len(variants) * 2)
    axes = fig.subplots(2, 1)
    colors = ["#4c72b0", "#dd8452", "#55a868", "#8172b3"]
    for ax, what, parts_of, limit_key in ((axes[0], "Flash", _flash_parts, "flash_bytes"), (axes[1], "RAM", _ram_parts, "ram_bytes")):
        names = [f"{name} (limit: {r['memory']['limits']['board']})" for name, r in zip(compact_labels(variants), variants)]
        lefts = [0.0] * len(variants)
        seen: dict[str, str] = {}
        for r_i, r in enumerate(variants):
            limit = r["memory"]["limits"][limit_key]
            for p_i, (part, size) in enumerate(parts_of(r)):
                share = 100.0 * size / limit
                color = seen.setdefault(part, colors[len(seen) % len(colors)])
                ax.barh(names[r_i], share, left=lefts[r_i], color=color, label=part if part not in ax.get_legend_handles_labels()[1] else None)
                lefts[r_i] += share
            ax.text(lefts[r_i] + 1, r_i, f"{lefts[r_i]:.1f}% of {human(limit // 1024)} KiB", va="center", fontsize=8)
        ax.axvline(100, color="#c44e52", linestyle="--", linewidth=1.2, label="limit")
        ax.set_xlim(0, max(110, max(lefts) * 1.25))
        ax.set_xlabel(f"{what} use, % of the board's limit")
        ax.invert_yaxis()
        ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Flash and RAM against the board's limits")
    return Plot("limits", "Flash and RAM against the board's limits",
                "RAM counts what the image reserves (static data and bss, heap, stack): that is what must fit.",
                _png(fig))


def _metric(r: Record) -> tuple[str, float] | None:
    host = r.get("host") or {}
    if host.get("accuracy") is not None:
        return "accuracy (%)", 100.0 * host["accuracy"]
    if host.get("mae") is not None:
        return "MAE", host["mae"]
    return None


def plot_accuracy_size(variants: list[Record]) -> Plot | None:
    points = [(r, _metric(r), r.get("host") or {}) for r in variants]
    points = [(r, m, h) for r, m, h in points if m is not None and h.get("size_bytes") is not None]
    if not points:
        return None
    # Pruning shrinks the compressed size, not the file: show both when known.
    axes_keys = [("size_bytes", "model size (KiB)")]
    if any(h.get("gzip_bytes") is not None for _, _, h in points):
        axes_keys.append(("gzip_bytes", "gzipped model size (KiB)"))
    fig = _figure(5 * len(axes_keys) + 1, 5)
    axes = fig.subplots(1, len(axes_keys), squeeze=False, sharey=True)[0]
    models = sorted({r["identity"]["model"]["name"] for r, _, _ in points})
    markers = "osD^vP*X"
    for ax, (key, xlabel) in zip(axes, axes_keys):
        for m_i, model in enumerate(models):
            pts = [(h[key] / 1024, m[1], r) for r, m, h in points if r["identity"]["model"]["name"] == model and h.get(key) is not None]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=markers[m_i % len(markers)], s=60, label=model)
            for x, y, r in pts:
                ax.annotate(r["identity"].get("recipe") or r["identity"].get("variant") or "base", (x, y),
                            textcoords="offset points", xytext=(5, 4), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        ax.margins(x=0.15, y=0.1)
    axes[0].set_ylabel(" / ".join(sorted({m[0] for _, m, _ in points})))
    axes[0].legend(fontsize=8, title="model", title_fontsize=8)
    fig.suptitle("Accuracy vs model size")
    return Plot("accuracy_size", "Accuracy vs model size",
                "Host-measured metric of each variant against its model size (and gzipped size, which is where "
                "pruning shows): the size/accuracy trade-off of the recipes.", _png(fig))


def plot_sparsity(variants: list[Record]) -> Plot | None:
    points = [(r, _metric(r), (r.get("host") or {}).get("sparsity"), (r.get("host") or {}).get("size_bytes")) for r in variants]
    points = [p for p in points if p[1] is not None and p[2] is not None]
    if not points or not any(p[2] > 0 for p in points):
        return None
    fig = _figure(8, 5)
    ax = fig.subplots()
    sizes = [(p[3] or 0) / 1024 for p in points]
    scatter = ax.scatter([100 * p[2] for p in points], [p[1][1] for p in points], c=sizes, cmap="viridis", s=80,
                         edgecolors="black")
    for p in points:
        ax.annotate(p[0]["identity"].get("recipe") or "base", (100 * p[2], p[1][1]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    fig.colorbar(scatter, ax=ax, label="model size (KiB)")
    ax.set_xlabel("sparsity (% of weights that are zero)")
    ax.set_ylabel(" / ".join(sorted({p[1][0] for p in points})))
    ax.grid(alpha=0.3)
    fig.suptitle("Sparsity vs metric vs size")
    return Plot("sparsity", "Sparsity vs metric vs size",
                "Pruning trade-off: each point is a variant; colour is its model size.", _png(fig))


def _ops_unit(variants: list[Record]) -> tuple[str | None, list[Record]]:
    with_ops = [r for r in variants if r.get("ops")]
    if not with_ops:
        return None, []
    unit = Counter(r["latency"]["unit"] for r in with_ops).most_common(1)[0][0]
    return unit, [r for r in with_ops if r["latency"]["unit"] == unit]


def plot_layers(variants: list[Record]) -> Plot | None:
    import numpy as np

    unit, group = _ops_unit(variants)
    if not group:
        return None
    layers = sorted({(op["index"], op["name"]) for r in group for op in r["ops"]})
    if len(layers) > MAX_LAYERS:
        layers = sorted(layers, key=lambda k: -max(next((op["value"] for op in r["ops"] if (op["index"], op["name"]) == k), 0)
                                                   for r in group))[:MAX_LAYERS]
        layers.sort()
    names = compact_labels(group)
    fig = _figure(10, 2.0 + 0.3 * len(layers) * max(1, len(group)) ** 0.5)
    axes = fig.subplots(1, 2, width_ratios=[3, 2])
    ax = axes[0]
    y = np.arange(len(layers))
    height = 0.8 / len(group)
    for i, r in enumerate(group):
        values = {(op["index"], op["name"]): op["value"] for op in r["ops"]}
        ax.barh(y + i * height, [values.get(k, 0) for k in layers], height, label=names[i])
    ax.set_yticks(y + height * (len(group) - 1) / 2, [f"{i}: {n}" for i, n in layers], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{UNIT_TEXT.get(unit, unit)} per inference")
    ax.xaxis.set_major_formatter(_eng())
    ax.set_title("per layer", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    # Share by op type: where the time goes, comparable across variants of different totals.
    ax = axes[1]
    types = sorted({op["name"] for r in group for op in r["ops"]})
    lefts = [0.0] * len(group)
    for t in types:
        shares = []
        for r in group:
            total = sum(op["value"] for op in r["ops"]) or 1
            shares.append(100.0 * sum(op["value"] for op in r["ops"] if op["name"] == t) / total)
        ax.barh(names, shares, left=lefts, label=t)
        lefts = [a + b for a, b in zip(lefts, shares)]
    ax.set_xlabel("% of the ops' total")
    ax.set_title("share by op type", fontsize=10)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=min(6, len(types)), fontsize=7,
               title="op type", title_fontsize=8)
    fig.suptitle("Per-layer latency breakdown")
    return Plot("layers", "Per-layer latency breakdown",
                f"Per-op profile reported by the runtime on the device, in {UNIT_TEXT.get(unit, unit)}.", _png(fig))


# ---------------------------------------------------------------- tables

def summary_table(variants: list[Record]) -> Table:
    columns = ["variant", "target", "latency (median)", "unit (source)", "ms", "flash B", "static RAM B",
               "stack B", "arena B", "accuracy", "model B", "fits", "outputs"]
    rows = []
    for r in variants:
        lat, mem, host = r["latency"], r["memory"], r.get("host") or {}
        if r.get("latency_ms") is not None:
            ms = f"{r['latency_ms']:.3f}"
        elif r.get("estimated_ms") is not None:
            ms = f"~{r['estimated_ms']:.3f} (estimate)"
        else:
            ms = "-"
        limits = mem.get("limits") or {}
        rows.append([
            label(r), r["identity"]["target"], human(lat["median"]), f"{lat['unit']} ({lat['source']})", ms,
            human(mem["flash_bytes"]), human(mem["static_ram_bytes"]), human(mem.get("stack_high_water_bytes")),
            human(mem.get("arena_used_bytes")),
            "-" if host.get("accuracy") is None else f"{100 * host['accuracy']:.2f}%",
            human(host.get("size_bytes")),
            "-" if not limits else (f"yes ({limits['board']})" if limits["fits"] else f"NO ({limits['board']})"),
            {True: "match", False: "DIFFER", None: "-"}[r.get("outputs_match")],
        ])
    return Table("Summary (newest result per variant)", columns, rows, numeric={2, 4, 5, 6, 7, 8, 9, 10})


def layer_tables(variants: list[Record]) -> list[Table]:
    tables = []
    for r in variants:
        if not r.get("ops"):
            continue
        total = sum(op["value"] for op in r["ops"]) or 1
        rows = [[str(op["index"]), op["name"], human(op["value"]), f"{100 * op['value'] / total:.1f}%"] for op in r["ops"]]
        tables.append(Table(f"Per layer: {label(r)}", ["#", "op", r["latency"]["unit"], "share"], rows, numeric={0, 2, 3}))
    return tables


def sources_table(variants: list[Record]) -> Table:
    rows = [[r["id"], r["created"], label(r), r["identity"].get("git_hash") or "-", r["identity"]["tool_version"],
             r["identity"].get("compiler") or "-"] for r in variants]
    return Table("Results used", ["id", "created", "variant", "git", "tool", "compiler"], rows)


# ---------------------------------------------------------------- assembly

PLOTTERS = (plot_latency, plot_memory, plot_limits, plot_accuracy_size, plot_sparsity, plot_layers)


def build_report(records: list[Record], title: str = "mcubench report") -> Report:
    if not records:
        raise UserError("no results to report", "run `mcubench bench` first, or widen the filters / give result files")
    variants = newest_per_variant(records)
    plots = [p for p in (plotter(variants) for plotter in PLOTTERS) if p is not None]
    notes = []
    if len(variants) < len(records):
        notes.append(f"{len(records)} results, {len(variants)} variants: the newest result of each variant is shown.")
    if any(r["identity"].get("emulator") for r in variants):
        notes.append("Emulated latencies are instruction counts or virtual time, not wall-clock time on a board.")
    if any(r.get("estimate") for r in variants):
        notes.append("'~… (estimate)' figures come from the host cycle model, not from a measurement.")
    units = {r["latency"]["unit"] for r in variants}
    if len(units) > 1:
        notes.append(f"Latency units differ between variants ({', '.join(sorted(units))}): compare within a unit only.")
    tables = [summary_table(variants), *layer_tables(variants), sources_table(variants)]
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Report(title, generated, variants, plots, tables, notes)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(report: Report, plot_paths: dict[str, str]) -> str:
    lines = [f"# {report.title}", "", f"Generated {report.generated} from {len(report.variants)} variant(s).", ""]
    lines += [f"> {note}" for note in report.notes] + ([""] if report.notes else [])
    summary, *rest = report.tables
    lines += _md_table(summary)
    for plot in report.plots:
        lines += [f"## {plot.title}", "", f"![{plot.title}]({plot_paths[plot.id]})", "", plot.caption, ""]
    for table in rest:
        lines += _md_table(table)
    return "\n".join(lines).rstrip() + "\n"


def _md_table(table: Table) -> list[str]:
    align = ["---:" if i in table.numeric else "---" for i in range(len(table.columns))]
    out = [f"## {table.title}", "", "| " + " | ".join(map(_md_cell, table.columns)) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return out + [""]


def render_html(report: Report) -> str:
    """One self-contained page (plots inline) from templates/report/report.html.j2."""
    return template_env().get_template("report/report.html.j2").render(report=report)


def write_report(report: Report, out_dir: Path | str) -> ReportFiles:
    """Plots first, then the Markdown and HTML that point at them: a page never names a missing plot."""
    out_dir = Path(out_dir)
    plot_paths = {}
    written = []
    for plot in report.plots:
        rel = f"plots/{plot.id}.png"
        written.append(write_bytes_atomic(out_dir / rel, plot.png))
        plot_paths[plot.id] = rel
    markdown = write_text_atomic(out_dir / "report.md", render_markdown(report, plot_paths))
    page = write_text_atomic(out_dir / "report.html", render_html(report))
    return ReportFiles(markdown, page, written)


def default_out_dir() -> Path:
    return results_dir() / "reports" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def summary_rows(report: Report) -> list[dict[str, Any]]:
    """The summary as dicts (CSV/JSON output of `mcubench report`)."""
    table = report.tables[0]
    return [dict(zip(table.columns, row)) for row in table.rows]


__all__ = ["Plot", "Report", "ReportFiles", "build_report", "default_out_dir", "newest_per_variant",
           "render_html", "render_markdown", "write_report"]
