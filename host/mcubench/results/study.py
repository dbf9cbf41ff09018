"""The pruning study's report: one row per pruned variant with host and device columns, and
two plots (metric vs estimated latency, size vs sparsity).

    rows = [study_row(recipe, params, record) for ...]    # records of `mcubench bench` runs
    report = study_report(rows, records, "pruning study: kws_dscnn")
    write_report(report, out_dir)                         # report.md, report.html, plots/*.png
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from mcubench.results.formats import human
from mcubench.results.record import Record
from mcubench.results.report import Plot, Report, Table, _figure, _png

STRUCTURE_OF = {"prune_channels": "channels"}

COLUMNS = ["structure", "schedule", "sparsity", "epochs (begin-end)", "zeros reached", "metric", "int8 B", "int8 gzip B",
           "float32 stripped gzip B", "dynamic gzip B", "MACs", "flash B", "arena B", "instructions",
           "est. cycles", "est. ms", "x dense", "outputs"]


def study_row(recipe: str, params: dict[str, Any], record: Record) -> dict[str, Any]:
    """The study's figures of one variant (``recipe``/``params`` as the job asked for it)."""
    host = record.get("host") or {}
    sizes = host.get("sizes") or {}
    if recipe in STRUCTURE_OF:
        structure, schedule = STRUCTURE_OF[recipe], "one-shot + fine-tune"
    elif recipe.startswith("prune_"):
        structure = "block " + (params.get("block_size") or params.get("m_by_n")) if (params.get("block_size") or params.get("m_by_n")) else "none"
        schedule = recipe.removeprefix("prune_")
    else:
        structure, schedule = "dense", "-"
    metric = ("accuracy", host["accuracy"]) if host.get("accuracy") is not None else (
        ("mae", host["mae"]) if host.get("mae") is not None else (None, None))
    return {
        "variant": record["identity"].get("variant"), "recipe": recipe, "structure": structure, "schedule": schedule,
        "sparsity": params.get("sparsity", 0.0) if recipe.startswith("prune_") else 0.0,
        "begin_end": f"{params.get('start_epoch', 0)}-{params.get('end_epoch', 3)}" if schedule == "polynomial" else (
            f"{params.get('start_epoch', 0)}-" if schedule == "constant" else "-"),
        "zeros_reached": host.get("sparsity"), "metric_name": metric[0], "metric": metric[1],
        "size_bytes": host.get("size_bytes"), "gzip_bytes": host.get("gzip_bytes"),
        "float32_gzip_bytes": sizes.get("float32_gzip"), "dynamic_gzip_bytes": sizes.get("dynamic_gzip"),
        "macs": host.get("macs"), "flash_bytes": record["memory"]["flash_bytes"],
        "arena_bytes": record["memory"].get("arena_used_bytes"), "instructions": record.get("instructions"),
        "estimated_cycles": record.get("estimated_cycles"), "estimated_ms": record.get("estimated_ms"),
        "estimate_board": (record.get("estimate") or {}).get("board"), "outputs_match": record.get("outputs_match"),
    }


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """``x_dense``: estimated cycles over the dense variant's (the row with structure 'dense')."""
    dense = next((r for r in rows if r["structure"] == "dense" and r["estimated_cycles"]), None)
    for r in rows:
        r["x_dense"] = (r["estimated_cycles"] / dense["estimated_cycles"]) if dense and r["estimated_cycles"] else None


def _metric_text(r: dict[str, Any]) -> str:
    if r["metric"] is None:
        return "-"
    return f"{100 * r['metric']:.2f} %" if r["metric_name"] == "accuracy" else f"MAE {r['metric']:.4f}"


def study_table(rows: list[dict[str, Any]]) -> Table:
    body = []
    for r in rows:
        body.append([
            r["structure"], r["schedule"], f"{100 * r['sparsity']:g} %", r["begin_end"],
            "-" if r["zeros_reached"] is None else f"{100 * r['zeros_reached']:.1f} %", _metric_text(r),
            human(r["size_bytes"]), human(r["gzip_bytes"]), human(r["float32_gzip_bytes"]), human(r["dynamic_gzip_bytes"]),
            human(r["macs"]), human(r["flash_bytes"]), human(r["arena_bytes"]), human(r["instructions"]),
            human(r["estimated_cycles"]), "-" if r["estimated_ms"] is None else f"{r['estimated_ms']:.2f}",
            "-" if r.get("x_dense") is None else f"{r['x_dense']:.2f}",
            {True: "match", False: "DIFFER", None: "-"}[r["outputs_match"]],
        ])
    return Table("Pruning study", COLUMNS, body, numeric=set(range(4, 17)) - {5})


_COLORS = {"dense": "#333333", "none": "#4c72b0", "channels": "#c44e52"}


def _color(structure: str) -> str:
    return _COLORS.get(structure, "#55a868")


def plot_metric_latency(rows: list[dict[str, Any]]) -> Plot | None:
    pts = [r for r in rows if r["metric"] is not None and r["estimated_ms"] is not None]
    if not pts:
        return None
    fig = _figure(8, 5)
    ax = fig.subplots()
    for structure in dict.fromkeys(r["structure"] for r in pts):
        group = [r for r in pts if r["structure"] == structure]
        ax.scatter([r["estimated_ms"] for r in group], [100 * r["metric"] if r["metric_name"] == "accuracy" else r["metric"] for r in group],
                   color=_color(structure), s=60, label=structure, edgecolors="black")
        for r in group:
            ax.annotate(f"{100 * r['sparsity']:g}%" + (" poly" if r["schedule"] == "polynomial" else ""), (r["estimated_ms"], 100 * r["metric"] if r["metric_name"] == "accuracy" else r["metric"]),
                        textcoords="offset points", xytext=(5, 4), fontsize=7)
    board = next((r["estimate_board"] for r in pts if r["estimate_board"]), "?")
    ax.set_xlabel(f"estimated latency (ms, Cortex-M4 cost model, {board})")
    ax.set_ylabel("accuracy (%)" if pts[0]["metric_name"] == "accuracy" else "MAE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="structure", title_fontsize=8)
    fig.suptitle("Accuracy vs estimated latency")
    return Plot("metric_latency", "Accuracy vs estimated latency",
                "Host-measured metric of each int8 variant against its estimated latency on the board (an estimate "
                "from QEMU's instruction stream and the Cortex-M4 cost model, not a measurement).", _png(fig))


def plot_size_sparsity(rows: list[dict[str, Any]]) -> Plot | None:
    pts = [r for r in rows if r["gzip_bytes"] is not None]
    if not pts:
        return None
    fig = _figure(11, 4.5)
    left, right = fig.subplots(1, 2)
    for structure in dict.fromkeys(r["structure"] for r in pts):
        group = sorted((r for r in pts if r["structure"] == structure), key=lambda r: r["sparsity"])
        xs = [100 * r["sparsity"] for r in group]
        left.plot(xs, [r["gzip_bytes"] / 1024 for r in group], "o-", color=_color(structure), label=f"{structure}: int8 gzip")
        if any(r["float32_gzip_bytes"] for r in group):
            left.plot(xs, [(r["float32_gzip_bytes"] or 0) / 1024 for r in group], "s--", color=_color(structure), alpha=0.6,
                      label=f"{structure}: float32 stripped gzip")
        right.plot(xs, [r["flash_bytes"] / 1024 for r in group], "o-", color=_color(structure), label=structure)
    left.set_xlabel("target sparsity (%)")
    left.set_ylabel("KiB")
    left.set_title("model size vs sparsity", fontsize=9)
    right.set_xlabel("target sparsity (%)")
    right.set_ylabel("KiB")
    right.set_title("flash of the AOT image vs sparsity", fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Size vs sparsity")
    return Plot("size_sparsity", "Size vs sparsity",
                "Left: the .tflite gzipped (where unstructured zeros show). Right: the whole firmware image's flash "
                "(where only removed channels and skipped blocks show).", _png(fig))


def study_report(rows: list[dict[str, Any]], records: list[Record], title: str) -> Report:
    add_ratios(rows)
    plots = [p for p in (plot_metric_latency(rows), plot_size_sparsity(rows)) if p is not None]
    notes = [("Device columns come from QEMU (mps2-an386, Cortex-M4): instructions are exact; cycles and ms are "
              "estimates of the Cortex-M4 cost model for the named board, not measurements."),
             "'x dense' is estimated cycles over the dense int8 variant's."]
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return Report(title, generated, records, plots, [study_table(rows)], notes)
