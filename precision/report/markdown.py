"""report.md: the report's sections in order — real kernels first, then the emulated arithmetic."""
from __future__ import annotations

from precision.report import emulated_sections as emulated
from precision.report.kernel_sections import cpu_paths_markdown, kernels_markdown, language_models_markdown


def markdown(data: dict, figures: list[str]) -> str:
    """The whole report as Markdown, from `precision.report.compute.compute`'s dict and the figures drawn."""
    md = ["# Precision-saturation report", ""]
    if data["kernels"]:
        md += kernels_markdown(data, figures)
    if "cpu_paths" in data:
        md += [cpu_paths_markdown(data["cpu_paths"]), ""]
    if "rounding_modes" in data:
        from precision.report.rounding_modes import rounding_mode_markdown, stochastic_markdown
        md += [rounding_mode_markdown(data["rounding_modes"]), "", stochastic_markdown(data["stochastic"]), ""]
    if "block_formats" in data:
        from precision.report.block_formats import block_formats_markdown
        md += [block_formats_markdown(data["block_formats"]), ""]
    if "language_models" in data:
        md += [language_models_markdown(data["language_models"]), ""]
    md += emulated.introduction_markdown(data, figures) + emulated.two_classes_markdown(data) + \
        emulated.by_classes_markdown(data, figures) + emulated.naive_markdown(data) + \
        emulated.orders_markdown(data) + emulated.accumulation_markdown(data) + \
        emulated.measures_markdown(data, figures)
    return "\n".join(md + [f"Computed in {data['seconds']} s. Every number above is in `report.json`.", ""])
