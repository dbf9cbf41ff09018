"""Issue 7: `mcubench report` writes Markdown and a self-contained HTML page with plots; the
HTML is loaded in Debian's headless Chromium and must show every plot with no console errors."""

from __future__ import annotations

import json
import re

import pytest
from results_browser import Chromium, chromium_path
from results_records import make_record, slower

from mcubench.cli import main
from mcubench.core.errors import UserError
from mcubench.results.history import History
from mcubench.results.report import build_report, compact_labels, newest_per_variant

ALL_PLOTS = {"latency", "memory", "limits", "accuracy_size", "sparsity", "layers"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def study_records() -> list[dict]:
    """A quantization/pruning study of one model plus the built-in workload and a board run."""
    return [
        make_record("qemu-builtin"),
        make_record("qemu-tflm", recipe="float32", accuracy=0.925, size=170_000),
        make_record("qemu-tflm", recipe="ptq_int8", accuracy=0.912, size=49_800),
        make_record("qemu-tflm", recipe="qat_int8", accuracy=0.921, size=49_900),
        slower(make_record("qemu-tflm", recipe="prune50", accuracy=0.903, sparsity=0.5), 0.8),
        slower(make_record("qemu-tflm", recipe="prune80", accuracy=0.871, sparsity=0.8), 0.6),
        make_record("hardware"),
        make_record("estimate", created="2026-11-22T09:00:00+00:00"),
    ]


@pytest.fixture(scope="module")
def study_report(tmp_path_factory):
    """The report of the study, written by the CLI from result files."""
    base = tmp_path_factory.mktemp("report")
    paths = []
    for i, record in enumerate(study_records()):
        path = base / f"r{i}.json"
        path.write_text(json.dumps(record))
        paths.append(str(path))
    out = base / "out"
    assert main(["report", *paths, "--out", str(out), "--title", "kws study", "--json"]) == 0
    return out


def test_report_files_and_markdown(study_report):
    md = (study_report / "report.md").read_text()
    assert md.startswith("# kws study")
    for plot_id in ALL_PLOTS:
        png = study_report / "plots" / f"{plot_id}.png"
        assert png.read_bytes().startswith(PNG_MAGIC), plot_id
        assert f"](plots/{plot_id}.png)" in md
    assert "| variant | target | latency (median) | unit (source) |" in md
    assert "instructions (qemu-icount)" in md and "cycles (dwt)" in md  # every figure keeps its unit and source
    assert "~0.116 (estimate)" in md and "18.991" in md  # estimate labelled; real ms from hardware cycles
    assert "## Per layer: kws_micro/kws_micro-prune80/tflm/mps2-an386@nano33ble" in md
    assert "Latency units differ between variants" in md


def test_html_is_self_contained(study_report):
    page = (study_report / "report.html").read_text()
    srcs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert srcs and all(s.startswith("data:") for s in srcs), srcs
    assert "<script" not in page
    assert set(re.findall(r'<img id="plot-([a-z_]+)"', page)) == ALL_PLOTS


needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="needs Chromium (/usr/bin/chromium, Debian package chromium)")


@needs_chromium
def test_html_report_loads_in_headless_chromium_with_every_plot(study_report, tmp_path):
    html_path = study_report / "report.html"
    page = html_path.read_text()
    # The same check must catch a plot that is missing or broken (else this test could not fail).
    broken = tmp_path / "broken.html"
    broken.write_text(
        re.sub(r'<img id="plot-sparsity"[^>]*>', "", page)
        .replace('id="plot-layers" class="plot" alt="Per-layer latency breakdown" src="data:image/png;base64,',
                 'id="plot-layers" class="plot" alt="Per-layer latency breakdown" src="data:image/png;base64,AAAA'))
    with Chromium() as browser:
        good = browser.check(html_path)
        bad = browser.check(broken)
    assert good.problems == []
    assert {img["id"] for img in good.images} == {f"plot-{p}" for p in ALL_PLOTS}
    assert all(img["naturalWidth"] > 100 and img["naturalHeight"] > 100 for img in good.images)
    assert good.body_plots == len(ALL_PLOTS)
    assert "image plot-layers did not load" in bad.problems
    assert "plot-sparsity" not in {img["id"] for img in bad.images} and bad.body_plots == len(ALL_PLOTS)


@needs_chromium
def test_browser_check_sees_console_errors_and_external_requests(tmp_path):
    page = tmp_path / "noisy.html"
    page.write_text('<!DOCTYPE html><html><body><img id="far" src="http://127.0.0.1:9/plot.png">'
                    '<script>console.error("plot failed")</script></body></html>')
    with Chromium() as browser:
        result = browser.check(page)
    assert "console error: plot failed" in result.problems
    assert "http://127.0.0.1:9/plot.png" in result.external_requests
    assert "image far did not load" in result.problems


def test_report_from_history_with_filters(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCUBENCH_RESULTS", str(tmp_path / "results"))
    h = History()
    for record in study_records()[:3]:
        h.add(record)
    out = tmp_path / "rep"
    assert main(["report", "--runtime", "builtin", "--out", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [row["variant"] for row in info["summary"]] == ["dot_int8/builtin/mps2-an386"]
    # Without host metrics or ops there is nothing to draw for them, and no empty plot either.
    assert sorted(p.rsplit("/", 1)[1] for p in info["plots"]) == ["latency.png", "limits.png", "memory.png"]
    assert main(["report", "--out", str(tmp_path / "rep2"), "--csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("variant,target,latency (median)")
    assert main(["report", "--board", "no-such-board", "--out", str(tmp_path / "rep3")]) == 2
    assert "no results to report" in capsys.readouterr().err


def test_newest_result_per_variant_and_labels():
    older = make_record("qemu-tflm", recipe="ptq_int8", created="2026-11-01T00:00:00+00:00")
    newer = slower(make_record("qemu-tflm", recipe="ptq_int8", created="2026-11-02T00:00:00+00:00"), 1.1)
    other = make_record("qemu-tflm", recipe="qat_int8")
    chosen = newest_per_variant([newer, older, other])
    assert [r["id"] for r in chosen] == [newer["id"], other["id"]]
    assert compact_labels(chosen) == ["kws_micro-ptq_int8", "kws_micro-qat_int8"]
    with pytest.raises(UserError, match="no results to report"):
        build_report([])


def test_html_page_escapes_every_value():
    # the page comes from templates/report/report.html.j2, which autoescapes (.html.j2)
    from mcubench.results.report import render_html

    report = build_report(study_records()[:2], title="<script>alert(1)</script> & co")
    report.notes.append('note with "quotes" <b>')
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "note with &#34;quotes&#34; &lt;b&gt;" in page
    assert page.count("<table>") == len(report.tables) and page.endswith("</html>\n")


@needs_chromium
def test_html_report_fits_a_laptop_screen(study_report, tmp_path):
    """No horizontal scrolling at 1280 px (issue #16: the summary table was wider than the page
    at 1400 px); the screenshot is kept beside the report for a person to look at."""
    with Chromium() as browser:
        laptop = browser.check(study_report / "report.html", width=1280, screenshot=tmp_path / "report-1280.png")
        narrow = browser.check(study_report / "report.html", width=600)
    assert laptop.wide_tables == 0 and laptop.page_width <= laptop.view_width, (laptop.page_width, laptop.view_width)
    assert (tmp_path / "report-1280.png").read_bytes()[:4] == b"\x89PNG"
    # The same measure sees a page that does not fit (else this test could not fail).
    assert narrow.page_width > narrow.view_width or narrow.wide_tables > 0

